package gitrepo

import (
	"context"
	"fmt"
	"strings"
)

// DefaultReleaseBranches are tried in order when ReleaseBranchHead gets no candidates.
var DefaultReleaseBranches = []string{"master", "main"}

// Fetch updates remote branches (pruning deleted ones) and fetches all tags. Tags are
// never force-updated: a remote tag that moved makes git refuse, which surfaces a
// rewritten release instead of silently following it.
func (r *Repo) Fetch(ctx context.Context) error {
	_, err := r.git(ctx, "fetch", "--prune", "--tags", r.remote())
	return err
}

// ReleaseBranchHead returns the first candidate branch (default "master", "main") that
// exists as refs/remotes/<remote>/<branch>, and its commit. It reads remote-tracking refs,
// so releases follow what was pushed, not the clone's checkout; call Fetch first.
func (r *Repo) ReleaseBranchHead(ctx context.Context, candidates ...string) (branch, commit string, err error) {
	if len(candidates) == 0 {
		candidates = DefaultReleaseBranches
	}
	for _, b := range candidates {
		commit, ok, err := r.resolve(ctx, "refs/remotes/"+r.remote()+"/"+b)
		if err != nil {
			return "", "", err
		}
		if ok {
			return b, commit, nil
		}
	}
	return "", "", fmt.Errorf("gitrepo: none of the branches %s exists on remote %s of %s (fetched?)",
		strings.Join(candidates, ", "), r.remote(), r.Dir)
}

// RefExists reports whether ref names a commit in the clone, so callers can tell a
// missing tag from a broken repository.
func (r *Repo) RefExists(ctx context.Context, ref string) (bool, error) {
	_, ok, err := r.resolve(ctx, ref)
	return ok, err
}

// ChangedPaths lists the files that differ between two revisions, to decide which
// components a release touches.
func (r *Repo) ChangedPaths(ctx context.Context, from, to string) ([]string, error) {
	if err := checkRevision("revision", from); err != nil {
		return nil, err
	}
	if err := checkRevision("revision", to); err != nil {
		return nil, err
	}
	out, err := r.git(ctx, "diff", "--name-only", "-z", from, to, "--")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range strings.Split(out, "\x00") {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths, nil
}

// resolve peels ref to a commit; ok is false when no such commit exists.
func (r *Repo) resolve(ctx context.Context, ref string) (commit string, ok bool, err error) {
	if err := checkRevision("ref", ref); err != nil {
		return "", false, err
	}
	out, err := r.git(ctx, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		// --quiet makes a missing ref a silent exit 1; anything else is a real failure.
		if exitCode(err) == 1 && ctx.Err() == nil {
			return "", false, nil
		}
		return "", false, err
	}
	return out, true, nil
}
