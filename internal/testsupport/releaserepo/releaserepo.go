// Package releaserepo builds a real release repository for tests: a bare origin and a
// working clone seeded from testdata/release-repo, so tag, diff and archive run real git.
package releaserepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Repo is a bare origin and a clone of it on master.
type Repo struct {
	Origin string
	Clone  string
	Env    []string
}

// Env is the git environment for tests: no user or system config, a fixed identity.
func Env(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=opsflow test", "GIT_AUTHOR_EMAIL=test@opsflow.invalid",
		"GIT_COMMITTER_NAME=opsflow test", "GIT_COMMITTER_EMAIL=test@opsflow.invalid",
	)
}

// TestdataDir is testdata/release-repo at the module root.
func TestdataDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "release-repo")
}

// New creates origin + clone under dir with the demo tree committed and pushed on master.
func New(t testing.TB, dir string) *Repo {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Repo{Origin: filepath.Join(dir, "tsd-import.git"), Clone: filepath.Join(dir, "tsd-import"), Env: Env(dir)}
	r.git(t, dir, "init", "-q", "--bare", "-b", "master", r.Origin)
	r.git(t, dir, "clone", "-q", r.Origin, r.Clone)
	r.git(t, r.Clone, "checkout", "-q", "-B", "master")
	copyTree(t, TestdataDir(t), r.Clone)
	r.git(t, r.Clone, "add", "-A")
	r.git(t, r.Clone, "commit", "-q", "-m", "tsd-import demo tree")
	r.git(t, r.Clone, "push", "-q", "origin", "master")
	return r
}

// Commit writes files (path → content; executable when the path is under bin/), commits
// and pushes to origin master, returning the new commit.
func (r *Repo) Commit(t testing.TB, msg string, files map[string]string) string {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(r.Clone, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(p, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	r.git(t, r.Clone, "add", "-A")
	r.git(t, r.Clone, "commit", "-q", "-m", msg)
	r.git(t, r.Clone, "push", "-q", "origin", "master")
	return r.Git(t, "rev-parse", "HEAD")
}

// Git runs git in the clone and returns its trimmed output.
func (r *Repo) Git(t testing.TB, args ...string) string {
	t.Helper()
	return r.git(t, r.Clone, args...)
}

func (r *Repo) git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}
