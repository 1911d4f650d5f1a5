package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	if os.Getenv("OPSFLOW_CODEC_KEYS") == "" {
		t.Setenv("OPSFLOW_CODEC_KEYS", "test:"+strings.Repeat("A", 43)+"=")
	}
	if os.Getenv("OPSFLOW_IDENTIFIER_KEY") == "" {
		t.Setenv("OPSFLOW_IDENTIFIER_KEY", "test-identifier-key")
	}
	cfg := Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.Register(fs)
	require.NoError(t, fs.Parse(args))
	return cfg, cfg.Finish()
}

func TestDefaultsDescribeTheDevStack(t *testing.T) {
	t.Setenv("OPSFLOW_STACK_DIR", "/tmp/stack")
	cfg, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7233", cfg.Temporal.Address)
	assert.Equal(t, "opsflow", cfg.Temporal.TaskQueue)
	assert.Equal(t, []string{"nsc", "tsd"}, cfg.SiteNames())
	assert.Equal(t, "/tmp/stack/sites/nsc", cfg.Sites["nsc"].Dir)
	assert.Equal(t, "opsflow-site-nsc", SiteTaskQueue(cfg.Temporal.TaskQueue, "nsc"))
	assert.Equal(t, []string{"master", "main"}, cfg.Release.Branches)
}

func TestEnvironmentOverridesDefaultsAndFlagsOverrideEnvironment(t *testing.T) {
	t.Setenv("OPSFLOW_TEMPORAL_ADDRESS", "temporal.example:7233")
	t.Setenv("OPSFLOW_TASK_QUEUE", "from-env")
	t.Setenv("OPSFLOW_RELEASE_BRANCHES", "main")
	t.Setenv("OPSFLOW_STABLE_FOR", "10s")
	t.Setenv("OPSFLOW_S3_PATH_STYLE", "false")
	cfg, err := parse(t, "--task-queue", "from-flag")
	require.NoError(t, err)
	assert.Equal(t, "temporal.example:7233", cfg.Temporal.Address)
	assert.Equal(t, "from-flag", cfg.Temporal.TaskQueue)
	assert.Equal(t, []string{"main"}, cfg.Release.Branches)
	assert.Equal(t, 10*time.Second, cfg.Release.StableFor)
	assert.False(t, cfg.S3.PathStyle)
}

func TestSitesFileIsStrict(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "sites.json")
	require.NoError(t, os.WriteFile(good, []byte(`[{"name":"tsd","dir":"/ess/p22","components":["filelock-exporter/"],
		"services":[{"name":"filelock-exporter-api","supervisorUrl":"http://127.0.0.1:9001/RPC2"}]}]`), 0o600))
	cfg, err := parse(t, "--sites-file", good)
	require.NoError(t, err)
	assert.Equal(t, []string{"tsd"}, cfg.SiteNames())

	typo := filepath.Join(dir, "typo.json")
	require.NoError(t, os.WriteFile(typo, []byte(`[{"name":"tsd","dir":"/x","servises":[]}]`), 0o600))
	_, err = parse(t, "--sites-file", typo)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "servises", "an unknown field is named")

	_, err = parse(t, "--sites-file", filepath.Join(dir, "missing.json"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.json")
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "sites.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[{"name":"TSD","dir":"relative","services":[]}]`), 0o600))
	_, err := parse(t, "--sites-file", bad, "--artifact-source", "ftp", "--keep-versions", "1")
	require.Error(t, err)
	for _, want := range []string{`artifact source "ftp"`, "keep-versions 1", `site "TSD": name`, "must be an absolute path", "no services"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestEncryptionAndIdentifierKeysAreRequired(t *testing.T) {
	t.Setenv("OPSFLOW_CODEC_KEYS", "")
	t.Setenv("OPSFLOW_CODEC_KEYS_FILE", "")
	t.Setenv("OPSFLOW_IDENTIFIER_KEY", "short")
	cfg := Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.Register(fs)
	require.NoError(t, fs.Parse(nil))
	err := cfg.Finish()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no payload encryption key")
	assert.Contains(t, err.Error(), "OPSFLOW_IDENTIFIER_KEY")

	t.Setenv("OPSFLOW_IDENTIFIERS_SENSITIVE", "false")
	t.Setenv("OPSFLOW_CODEC_KEYS", "k:"+strings.Repeat("A", 43)+"=")
	cfg2, err := parse(t)
	require.NoError(t, err, "no identifier key needed when identifiers are not sensitive")
	assert.False(t, cfg2.Codec.IdentifiersSensitive)
}

func TestWorkflowURL(t *testing.T) {
	cfg := Default()
	assert.Equal(t, "http://127.0.0.1:8233/namespaces/default/workflows/release-v1.0.0-rel/abc", cfg.WorkflowURL("release-v1.0.0-rel", "abc"))
}

// A typo must not switch identifier hashing off: before, any value ParseBool refused
// (yes, ture) silently meant false, and sample names went into workflow ids in clear.
func TestIdentifiersSensitiveAcceptsYesNoAndRefusesUnknownValues(t *testing.T) {
	for value, want := range map[string]bool{"yes": true, "YES": true, "true": true, "1": true, "T": true,
		"no": false, "No": false, "false": false, "0": false} {
		t.Run(value, func(t *testing.T) {
			t.Setenv("OPSFLOW_IDENTIFIERS_SENSITIVE", value)
			cfg, err := parse(t)
			require.NoError(t, err)
			assert.Equal(t, want, cfg.Codec.IdentifiersSensitive)
		})
	}
	for _, value := range []string{"ture", "on", "y", "sensitive"} {
		t.Run(value, func(t *testing.T) {
			t.Setenv("OPSFLOW_IDENTIFIERS_SENSITIVE", value)
			_, err := parse(t)
			require.Error(t, err, "%q must be refused, not read as false", value)
			assert.Contains(t, err.Error(), "OPSFLOW_IDENTIFIERS_SENSITIVE")
			assert.Contains(t, err.Error(), `"`+value+`"`)
		})
	}

	cfg, err := parse(t, "--identifiers-sensitive=no")
	require.NoError(t, err)
	assert.False(t, cfg.Codec.IdentifiersSensitive, "the flag takes yes/no too")
	cfg = Default()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Register(fs)
	err = fs.Parse([]string{"--identifiers-sensitive=maybe"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "identifiers-sensitive")
	assert.Contains(t, err.Error(), `"maybe"`)
}

func TestMalformedTypedSettingsAreConfigurationErrors(t *testing.T) {
	t.Setenv("OPSFLOW_S3_PATH_STYLE", "ja")
	t.Setenv("OPSFLOW_KEEP_VERSIONS", "two")
	t.Setenv("OPSFLOW_STABLE_FOR", "3")
	_, err := parse(t)
	require.Error(t, err)
	for _, want := range []string{`OPSFLOW_S3_PATH_STYLE="ja"`, `OPSFLOW_KEEP_VERSIONS="two"`, `OPSFLOW_STABLE_FOR="3"`} {
		assert.Contains(t, err.Error(), want)
	}
}

// The starter reads only the client settings: a malformed worker variable is the worker's
// error, never the starter's, while a malformed client variable stops both.
func TestClientSettingsAreCheckedApartFromTheWorkers(t *testing.T) {
	t.Setenv("OPSFLOW_CODEC_KEYS", "test:"+strings.Repeat("A", 43)+"=")
	t.Setenv("OPSFLOW_IDENTIFIER_KEY", "test-identifier-key")
	t.Setenv("OPSFLOW_STABLE_FOR", "3")
	t.Setenv("OPSFLOW_ENVIRONMENT", "preprod")
	client := func(args ...string) (Client, error) {
		c := DefaultClient()
		fs := flag.NewFlagSet("release", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Register(fs)
		c.RegisterEnvironment(fs)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := client()
	require.NoError(t, err)
	assert.Equal(t, "preprod", c.Environment)
	c, err = client("--env", "prod")
	require.NoError(t, err)
	assert.Equal(t, "prod", c.Environment, "--env is short for --environment")
	_, err = client("--stable-for", "3s")
	require.Error(t, err, "a worker flag is not a client flag")

	_, err = parse(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `OPSFLOW_STABLE_FOR="3"`)

	t.Setenv("OPSFLOW_STABLE_FOR", "")
	t.Setenv("OPSFLOW_IDENTIFIERS_SENSITIVE", "ture")
	_, err = client()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `OPSFLOW_IDENTIFIERS_SENSITIVE="ture"`)
}

func TestWorkerSelectsCentralAndSitesStrictly(t *testing.T) {
	t.Setenv("OPSFLOW_WORKER_CENTRAL", "false")
	t.Setenv("OPSFLOW_WORKER_SITES", "nsc")
	cfg, err := parse(t)
	require.NoError(t, err)
	assert.False(t, cfg.Central)
	assert.Equal(t, "nsc", cfg.SiteWorkers)
	t.Setenv("OPSFLOW_WORKER_CENTRAL", "nein")
	_, err = parse(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `OPSFLOW_WORKER_CENTRAL="nein"`)
}
