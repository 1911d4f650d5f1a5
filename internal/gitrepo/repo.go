// Package gitrepo runs the git CLI against a release repository clone. It shells out to git,
// rather than using a Go implementation, so tags, pushes and archives behave exactly as the
// operators' own git does, credentials helpers and all.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DefaultRemote is the remote used when Repo.Remote is empty.
const DefaultRemote = "origin"

// Repo is a git working clone on disk. The zero Remote means "origin".
type Repo struct {
	// Dir is the clone's working directory.
	Dir string
	// Remote is the remote to fetch from and push to; empty means DefaultRemote.
	Remote string
	// Env is appended to the process environment of every git command, e.g. to set
	// HOME or GIT_SSH_COMMAND. Later entries win.
	Env []string
	// Identity, when set, is the tagger of release tags, so tags name the release
	// automation whatever the worker's git config says. Nil leaves it to git's
	// environment and config, see CreateAnnotatedTag.
	Identity *Identity
}

// Identity is a git user; either field may be empty to keep git's own value.
type Identity struct {
	Name, Email string
}

// CommandError reports a failed git command with its stderr, so operators see git's own
// explanation (rejected push, unknown revision) next to the command that caused it.
type CommandError struct {
	Dir    string
	Args   []string
	Stderr string
	Err    error
}

func (e *CommandError) Error() string {
	msg := fmt.Sprintf("git %s (in %s): %v", strings.Join(e.Args, " "), e.Dir, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// exitCode is the git exit status behind err, or -1 when git did not run to completion.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func (r *Repo) remote() string {
	if r.Remote == "" {
		return DefaultRemote
	}
	return r.Remote
}

// waitDelay bounds how long a canceled git command may keep its output open, e.g. through
// an ssh child that outlives it, so cancellation returns promptly.
const waitDelay = 5 * time.Second

// git runs a git command in the clone and returns its trimmed stdout.
func (r *Repo) git(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	if err := r.run(ctx, &out, nil, args...); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

// run runs a git command in the clone, streaming its stdout to w. env is appended after
// Repo.Env, so it wins; it never appears in errors.
func (r *Repo) run(ctx context.Context, w io.Writer, env []string, args ...string) error {
	if err := r.checkDir(); err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.Dir
	// Never block on a credential prompt: a worker has no terminal.
	cmd.Env = append(append(append(os.Environ(), "GIT_TERMINAL_PROMPT=0"), r.Env...), env...)
	cmd.Stdout = w
	cmd.Stderr = &stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return &CommandError{Dir: r.Dir, Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return nil
}

func (r *Repo) checkDir() error {
	if r.Dir == "" {
		return errors.New("gitrepo: repository directory is not set")
	}
	info, err := os.Stat(r.Dir)
	if err != nil {
		return fmt.Errorf("gitrepo: repository directory %s: %w", r.Dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("gitrepo: repository directory %s is not a directory", r.Dir)
	}
	return nil
}

// checkRevision rejects revisions git would read as options.
func checkRevision(what, rev string) error {
	if rev == "" || strings.HasPrefix(rev, "-") {
		return fmt.Errorf("gitrepo: invalid %s %q", what, rev)
	}
	return nil
}
