package privateserver

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Where scripts/stack installs what the private servers run: Go tools in .stack/bin (copies of
// the tools cache, $OPSFLOW_TOOLS_CACHE or ~/.cache/opsflow/bin), the Java servers' jars in a
// folder per pom content under $OPSFLOW_JARS_CACHE or ~/.cache/opsflow/jars, RabbitMQ from
// Debian. A missing one fails the test with the command that installs it, never skips it.

const installHint = `scripts/stack up installs it; then eval "$(scripts/stack env)"`

// toolBinary finds a Go tool of the stack (versitygw): .stack/bin ($OPSFLOW_STACK_DIR/bin), the
// tools cache, then PATH.
func toolBinary(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("OPSFLOW_STACK_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	dirs = append(dirs, filepath.Join(repoRoot(), ".stack", "bin"))
	if d := os.Getenv("OPSFLOW_TOOLS_CACHE"); d != "" {
		dirs = append(dirs, d)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "opsflow", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("privateserver: %s not found in %v nor on PATH: %s", name, dirs, installHint)
	return ""
}

// jarsDir is the folder scripts/stack resolved scripts/<name>/pom.xml's jars into (its
// jars_dir: the pom's SHA-256, first 12 hex digits), complete (.complete marker).
func jarsDir(t testing.TB, name string) string {
	t.Helper()
	pom, err := os.ReadFile(filepath.Join(repoRoot(), "scripts", name, "pom.xml"))
	if err != nil {
		t.Fatalf("privateserver: %v", err)
	}
	sum := sha256.Sum256(pom)
	cache := os.Getenv("OPSFLOW_JARS_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("privateserver: no home directory for the jars cache: %v", err)
		}
		cache = filepath.Join(home, ".cache", "opsflow", "jars")
	}
	dir := filepath.Join(cache, name+"-"+hex.EncodeToString(sum[:])[:12])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("privateserver: %s's jars are not resolved in %s: %s", name, dir, installHint)
	}
	return dir
}

// javaBinary is the JRE scripts/stack installs for OpenSearch and ElasticMQ.
func javaBinary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("privateserver: java not on PATH: %s", installHint)
	}
	return p
}
