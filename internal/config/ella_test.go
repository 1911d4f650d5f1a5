package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noEllaEnv clears the ELLA host's variables (scripts/stack env sets OPSFLOW_SMTP_ADDR).
func noEllaEnv(t *testing.T) {
	for _, v := range []string{"OPSFLOW_ELLA_DIR", "OPSFLOW_ELLA_TASK_QUEUE", "OPSFLOW_ELLA_CLI", "OPSFLOW_ELLA_DB_URL",
		"OPSFLOW_ELLA_CONFIG_DIR", "OPSFLOW_ELLA_CONFIGS", "OPSFLOW_ELLA_SUPERVISOR_URL", "OPSFLOW_ELLA_SUPERVISOR_USER",
		"OPSFLOW_ELLA_SUPERVISOR_PASSWORD", "OPSFLOW_ELLA_STABLE_FOR", "OPSFLOW_ELLA_PAGE_URL", "OPSFLOW_ELLA_PAGE_TIMEOUT",
		"OPSFLOW_ELLA_API_URL", "OPSFLOW_ELLA_ACCESS_LOG", "OPSFLOW_SMTP_ADDR", "OPSFLOW_MAIL_FROM", "OPSFLOW_ELLA_MAIL_TEMPLATES"} {
		t.Setenv(v, "")
	}
}

// ellaHost is the flags of a complete ELLA host worker.
func ellaHost(dir string, extra ...string) []string {
	return append([]string{"--ella-dir", dir, "--ella-db-url", "postgres://ella:s3cret%21@db.example:6543/ella?sslmode=disable",
		"--ella-supervisor-url", "http://127.0.0.1:9011/RPC2", "--ella-page-url", "http://127.0.0.1:3114/",
		"--smtp-addr", "127.0.0.1:1025"}, extra...)
}

func TestEllaHostIsOffWithoutItsDirectory(t *testing.T) {
	noEllaEnv(t)
	cfg, err := parse(t)
	require.NoError(t, err)
	assert.Empty(t, cfg.Ella.Dir)
	assert.Equal(t, "ella", cfg.Ella.TaskQueue)
	assert.Equal(t, `["singularity","exec","{image}","ella-cli"]`, cfg.Ella.CLIJSON)
	assert.Equal(t, 5*time.Second, cfg.Ella.StableFor)
	assert.Equal(t, time.Minute, cfg.Ella.PageTimeout)
}

func TestEllaHostSettingsAreParsed(t *testing.T) {
	noEllaEnv(t)
	dir := t.TempDir()
	t.Setenv("OPSFLOW_ELLA_CONFIGS", "usergroups.json, filterconfigs.json")
	t.Setenv("OPSFLOW_ELLA_STABLE_FOR", "2s")
	cfg, err := parse(t, ellaHost(dir, "--ella-cli", `["/opt/ella-stub","cli","--image","{image}"]`, "--ella-task-queue", "ella-p22-ella-01")...)
	require.NoError(t, err)
	e := cfg.Ella
	assert.Equal(t, dir, e.Dir)
	assert.Equal(t, filepath.Join(dir, "config"), e.ConfigDir, "the config directory defaults to <dir>/config")
	assert.Equal(t, "ella-p22-ella-01", e.TaskQueue)
	assert.Equal(t, []string{"/opt/ella-stub", "cli", "--image", "{image}"}, e.CLI)
	assert.Equal(t, EllaDB{Host: "db.example", Port: 6543, User: "ella", Password: "s3cret!", Database: "ella"}, e.DB)
	assert.Equal(t, []string{"usergroups.json", "filterconfigs.json"}, e.AllowedConfigs)
	assert.Equal(t, 2*time.Second, e.StableFor)

	cfg, err = parse(t, ellaHost(dir)...)
	require.NoError(t, err)
	assert.Equal(t, []string{"singularity", "exec", "{image}", "ella-cli"}, cfg.Ella.CLI, "production ella-cli by default")
}

func TestEllaDBURL(t *testing.T) {
	noEllaEnv(t)
	db, err := ParseEllaDBURL("postgresql://opsflow@127.0.0.1/ella_prod")
	require.NoError(t, err)
	assert.Equal(t, EllaDB{Host: "127.0.0.1", Port: 5432, User: "opsflow", Database: "ella_prod"}, db, "port 5432 by default, no password")

	for url, want := range map[string]string{
		"":                                    "OPSFLOW_ELLA_DB_URL is empty",
		"mysql://u:pw@h/db":                   "not postgres://",
		"postgres://u:topsecret@h/":           "no database name",
		"postgres://h:5432/db":                "no user",
		"postgres://u:topsecret@h:99999/db":   "is not a TCP port",
		"postgres://u:topsecret@:5432/db":     "no host",
		"postgres://u:topsecret@h:5432/a/b":   "no database name",
		"postgres://u:top secret%zz@h:1/db":   "does not parse",
		"postgres://u:topsecret@[::1/db":      "does not parse",
		"postgres://u:topsecret@h:abc/db":     "does not parse",
		"postgres://u:topsecret@h:5432/db#me": "",
	} {
		_, err := ParseEllaDBURL(url)
		if want == "" {
			assert.NoError(t, err, url)
			continue
		}
		require.Error(t, err, url)
		assert.Contains(t, err.Error(), want, url)
		assert.NotContains(t, err.Error(), "topsecret", "the password is never in an error")
		assert.NotContains(t, err.Error(), "top secret", "the password is never in an error")
	}
}

func TestEllaCLIIsAJSONArgumentList(t *testing.T) {
	noEllaEnv(t)
	argv, err := ParseEllaCLI(`["singularity", "exec", "{image}", "ella-cli"]`)
	require.NoError(t, err)
	assert.Equal(t, []string{"singularity", "exec", "{image}", "ella-cli"}, argv)
	for s, want := range map[string]string{
		"singularity exec {image} ella-cli":    "is not a JSON array of strings",
		`["singularity","exec","{image}"`:      "is not a JSON array of strings",
		`["a"] ["b"]`:                          "is not a JSON array of strings",
		`[]`:                                   "empty argument list",
		`["singularity","","{image}"]`:         "empty argument",
		`["singularity","exec","ella.sif"]`:    "has no {image} argument",
		`{"argv":["singularity","{image}"]}`:   "is not a JSON array of strings",
		`["singularity", 1, "{image}", "cli"]`: "is not a JSON array of strings",
	} {
		_, err := ParseEllaCLI(s)
		require.Error(t, err, s)
		assert.Contains(t, err.Error(), want, s)
		assert.Contains(t, err.Error(), "OPSFLOW_ELLA_CLI", s)
	}
}

func TestEllaHostNeedsItsServersAndReportsEveryProblem(t *testing.T) {
	noEllaEnv(t)
	_, err := parse(t, "--ella-dir", t.TempDir(), "--mail-from", "not an address", "--ella-stable-for", "0s",
		"--ella-configs", "usergroups.json,../etc/passwd", "--ella-cli", "singularity exec", "--ella-api-url", "ftp://x",
		"--ella-task-queue", "-bad")
	require.Error(t, err)
	for _, want := range []string{"OPSFLOW_ELLA_DB_URL is empty", "OPSFLOW_ELLA_SUPERVISOR_URL is empty", "OPSFLOW_ELLA_PAGE_URL is empty",
		"OPSFLOW_SMTP_ADDR (host:port) is empty", "mail-from", "ella-stable-for 0s", `"../etc/passwd"`, "OPSFLOW_ELLA_CLI",
		"ella-api-url", "ella-task-queue"} {
		assert.Contains(t, err.Error(), want)
	}

	_, err = parse(t, ellaHost(t.TempDir(), "--smtp-addr", "localhost", "--ella-supervisor-url", "http://ella:alleles@/RPC2")...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `smtp-addr "localhost" is not host:port`)
	assert.Contains(t, err.Error(), "ella-supervisor-url")
	assert.NotContains(t, err.Error(), "alleles", "a password in a URL is not shown")
}

func TestEllaMailTemplatesFile(t *testing.T) {
	noEllaEnv(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	defaults := map[string]EllaMailTemplate{"planned": {Subject: "d", Body: "d"}, "back": {Subject: "b", Body: "b"}}

	good := write("good.json", `{"planned": {"subject": "ELLA {{.Version}}: {{.Window}}", "body": "Hei!\n"}}`)
	cfg, err := parse(t, ellaHost(dir, "--ella-mail-templates", good)...)
	require.NoError(t, err)
	merged, err := MergeEllaMailTemplates(defaults, cfg.Ella.MailTemplates)
	require.NoError(t, err)
	assert.Equal(t, map[string]EllaMailTemplate{"planned": {Subject: "ELLA {{.Version}}: {{.Window}}", Body: "Hei!\n"},
		"back": {Subject: "b", Body: "b"}}, merged, "the file replaces its namesakes, the defaults stay")

	unknown := write("unknown.json", `{"planed": {"subject": "s", "body": "b"}}`)
	cfg, err = parse(t, ellaHost(dir, "--ella-mail-templates", unknown)...)
	require.NoError(t, err, "names are checked against the worker's templates")
	_, err = MergeEllaMailTemplates(defaults, cfg.Ella.MailTemplates)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no e-mail is called "planed" (known: back, planned)`)

	broken := write("broken.json", `{"back": {"subject": "ELLA {{.Version", "body": "b"}, "planned": {"subject": "s", "body": ""}}`)
	_, err = parse(t, ellaHost(dir, "--ella-mail-templates", broken)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `template "back" subject`)
	assert.Contains(t, err.Error(), `template "planned" needs a subject and a body`)

	typo := write("typo.json", `{"back": {"subjekt": "s", "body": "b"}}`)
	_, err = parse(t, ellaHost(dir, "--ella-mail-templates", typo)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "subjekt")

	_, err = parse(t, ellaHost(dir, "--ella-mail-templates", filepath.Join(dir, "missing.json"))...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.json")
}
