package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each subcommand takes the client settings and its own flags, and refuses the worker's:
// `opsflow release -h` no longer lists S3, GitLab or SQS settings.
func TestSubcommandsTakeOnlyTheirFlags(t *testing.T) {
	// Without a codec key every subcommand stops at the configuration check, after parsing
	// its flags and before dialling Temporal.
	t.Setenv("OPSFLOW_CODEC_KEYS", "")
	t.Setenv("OPSFLOW_CODEC_KEYS_FILE", "")
	devnull, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer devnull.Close()
	stderr := os.Stderr
	os.Stderr = devnull
	defer func() { os.Stderr = stderr }()

	run := map[string]func([]string) error{"release": runRelease, "import": runImport, "sync": runSync,
		"progress": runProgress, "find": runFind}
	accepted := map[string][]string{
		"release":  {"--version", "v1.0.0-rel", "--sites", "nsc", "--force", "--dry-run", "--wait", "--time-limit", "3h", "--workflow-id", "x", "--env", "prod", "--task-queue", "q"},
		"import":   {"--package", "p", "--dry-run", "--wait", "--environment", "prod", "--temporal-address", "127.0.0.1:1"},
		"sync":     {"--environment", "prod", "--abort", "why", "--idle-timeout", "2m", "--heartbeat-timeout", "5s", "--wait"},
		"progress": {"--workflow-id", "release-v1.0.0-rel", "--ui-url", "http://ui"},
		"find":     {"--env", "prod", "--procedure", "ReleaseDeploy", "--since", "1h", "--identifiers-sensitive=false"},
	}
	for name, args := range accepted {
		err := run[name](args)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "no payload encryption key", "%s parsed %v", name, args)
	}
	for name := range run {
		for _, workerFlag := range []string{"--s3-endpoint", "--gitlab-url", "--sqs-endpoint", "--sites-file", "--log-level"} {
			err := run[name]([]string{workerFlag, "x"})
			require.Error(t, err, "%s %s", name, workerFlag)
			assert.Contains(t, err.Error(), "flag provided but not defined", "%s %s", name, workerFlag)
		}
	}
}
