package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ella"
)

const ellaTestSHA = "7b5dc5b6f675816da4f112ddca613b706d89e14ce2f4829b099616c7284faea9"

// quiet hides the usage texts -h and refused flags print.
func quiet(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = devnull, devnull
	t.Cleanup(func() { os.Stdout, os.Stderr = stdout, stderr; devnull.Close() })
}

// Each `opsflow ella` command parses its own flags and stops at the configuration check
// (no codec key) before it dials Temporal; none takes the worker's ELLA settings.
func TestEllaCommandsTakeTheirFlags(t *testing.T) {
	t.Setenv("OPSFLOW_CODEC_KEYS", "")
	t.Setenv("OPSFLOW_CODEC_KEYS_FILE", "")
	t.Setenv("OPSFLOW_ELLA_RECIPIENTS", "")
	quiet(t)
	accepted := map[string][]string{
		"deploy": {"--version", "v2.0.0", "--image", "ella-release-v2.0.0.sif", "--sha256", ellaTestSHA, "--window", "tirsdag 16-18",
			"--recipients", "../testdata/ella/recipients.json", "--testers", "kari@ous.test", "--user-groups", "usergroups.json",
			"--filter-configs", "filterconfigs.json", "--acceptance-within", "24h", "--remind-every", "4h", "--change", "why",
			"--message", "ELLA er nede", "--host-queue", "ella-p22", "--wait-gate", "--wait", "--record", "x.md", "--env", "prod"},
		"decide":   {"--workflow-id", "ella-deploy-v2.0.0", "--approve", "--by", "Kari", "--comment", "ok", "--wait", "--record", "x.md"},
		"status":   {"--workflow-id", "ella-deploy-v2.0.0", "--record", "x.md"},
		"failover": {"--from", "ella", "--to", "ella-fo", "--reason", "host down", "--message", "flyttet", "--deactivate", "3,4", "--wait"},
	}
	for name, args := range accepted {
		err := runElla(append([]string{name}, args...))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "no payload encryption key", "%s parsed %v", name, args)
	}
	for name := range accepted {
		for _, workerFlag := range []string{"--ella-dir", "--ella-db-url", "--smtp-addr"} {
			err := runElla([]string{name, workerFlag, "x"})
			require.Error(t, err, "%s %s", name, workerFlag)
			assert.Contains(t, err.Error(), "flag provided but not defined", "%s %s", name, workerFlag)
		}
	}
	require.NoError(t, runElla([]string{"-h"}))
	require.NoError(t, runElla([]string{"deploy", "-h"}), "-h prints the flags, it is no failure")
	require.ErrorContains(t, runElla([]string{"rollout"}), `unknown command "rollout"`)
}

// A deploy's input is checked before the configuration and before Temporal: a bad input is
// refused with every problem named and nothing is started.
func TestEllaDeployRefusesBadInputFirst(t *testing.T) {
	t.Setenv("OPSFLOW_CODEC_KEYS", "")
	t.Setenv("OPSFLOW_ELLA_RECIPIENTS", "")
	err := runElla([]string{"deploy", "--version", "v2.0.0", "--image", "../ella.sif", "--sha256", "abc", "--window", "i dag",
		"--users", "kari@ous.test", "--testers", "not an address", "--user-groups", "/etc/passwd"})
	require.Error(t, err)
	for _, want := range []string{"input refused, nothing started", `image "../ella.sif"`, `sha256 "abc"`, `"not an address"`, `"/etc/passwd"`} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "encryption key", "the input is checked first")

	err = runElla([]string{"failover", "--from", "ella", "--to", "ella"})
	require.ErrorContains(t, err, `from and to are the same task queue "ella"`)
	err = runElla([]string{"failover", "--from", "ella", "--to", "ella-fo", "--deactivate", "x"})
	require.ErrorContains(t, err, `--deactivate "x" is not a broadcast id`)

	t.Setenv("OPSFLOW_CODEC_KEYS", "test:"+strings.Repeat("A", 43)+"=")
	err = runElla([]string{"decide", "--workflow-id", "ella-deploy-v2.0.0", "--approve", "--reject", "--by", "Kari"})
	require.ErrorContains(t, err, "either --approve or --reject")
	err = runElla([]string{"decide", "--workflow-id", "ella-deploy-v2.0.0", "--approve"})
	require.ErrorContains(t, err, `"by" (who decides) is missing`)
}

// The recipients file gives users and testers; a flag replaces its list.
func TestEllaRecipientsFileAndFlags(t *testing.T) {
	var in ella.DeployInput
	require.NoError(t, fillEllaRecipients(&in, "../testdata/ella/recipients.json", "", ""))
	assert.Equal(t, []string{"ella-users@ous.test", "variant-tolker@ous.test"}, in.Users)
	assert.Equal(t, []string{"ella-testers@ous.test"}, in.Testers)

	require.NoError(t, fillEllaRecipients(&in, "../testdata/ella/recipients.json", "", " kari@ous.test, ola@ous.test "))
	assert.Equal(t, []string{"ella-users@ous.test", "variant-tolker@ous.test"}, in.Users)
	assert.Equal(t, []string{"kari@ous.test", "ola@ous.test"}, in.Testers)

	typo := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, os.WriteFile(typo, []byte(`{"users": ["a@b.test"], "tester": ["c@d.test"]}`), 0o600))
	require.ErrorContains(t, fillEllaRecipients(&in, typo, "", ""), `unknown field "tester"`)
}

// The example templates in testdata are ones the worker takes.
func TestEllaExampleMailTemplatesLoad(t *testing.T) {
	ts, err := config.LoadEllaMailTemplates("../testdata/ella/mail-templates.json")
	require.NoError(t, err)
	assert.Contains(t, ts, "planned")
}
