package gitrepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testEnv isolates git from the machine: no user or system config, a fixed identity.
func testEnv(home string) []string {
	return []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Release Tester", "GIT_AUTHOR_EMAIL=tester@opsflow.invalid",
		"GIT_COMMITTER_NAME=Release Tester", "GIT_COMMITTER_EMAIL=tester@opsflow.invalid",
	}
}

// fixture is a bare origin and a working clone of it.
type fixture struct {
	t      *testing.T
	root   string
	origin string
	clone  string
	env    []string
}

// newFixture pushes a tree of three exporter components to branch of a new bare origin.
func newFixture(t *testing.T, branch string) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{t: t, root: root, origin: filepath.Join(root, "origin.git"), env: testEnv(root)}
	f.git(root, "init", "-q", "--bare", "-b", branch, f.origin)
	f.clone = f.cloneOrigin("clone")
	f.git(f.clone, "checkout", "-q", "-B", branch)
	f.commit("initial tree", map[string]string{
		"lims-exporter/main.py":     "print('lims')\n",
		"nsc-exporter/main.py":      "print('nsc')\n",
		"filelock-exporter/main.sh": "#!/bin/sh\necho filelock\n",
	})
	f.git(f.clone, "push", "-q", "origin", branch)
	return f
}

func (f *fixture) repo(dir string) *Repo {
	return &Repo{Dir: dir, Remote: "origin", Env: f.env}
}

// cloneOrigin makes another clone of origin under the fixture root.
func (f *fixture) cloneOrigin(name string) string {
	dir := filepath.Join(f.root, name)
	f.git(f.root, "clone", "-q", f.origin, dir)
	return dir
}

// commit writes files in the clone and commits them, returning the commit.
func (f *fixture) commit(msg string, files map[string]string) string {
	f.t.Helper()
	for p, content := range files {
		full := filepath.Join(f.clone, p)
		require.NoError(f.t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(f.t, os.WriteFile(full, []byte(content), 0o644))
	}
	f.git(f.clone, "add", "-A")
	f.git(f.clone, "commit", "-q", "-m", msg)
	return f.git(f.clone, "rev-parse", "HEAD")
}

// git runs git in dir with the test environment and returns its trimmed output.
func (f *fixture) git(dir string, args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), f.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(f.t, err, "git %s in %s: %s", strings.Join(args, " "), dir, out)
	return strings.TrimSpace(string(out))
}
