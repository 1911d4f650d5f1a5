package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Fallback tagger identity, used only when git has no user.name or user.email configured,
// so a freshly provisioned worker can still tag.
const (
	FallbackName  = "opsflow"
	FallbackEmail = "opsflow@localhost"
)

// TagCommit returns the commit tag points to, peeled through annotated tags. It asks the
// remote (the source of truth for a release) and the clone, so a tag created locally by an
// interrupted run is still found. exists is false when neither has the tag; if they
// disagree the release history is ambiguous and TagCommit fails naming both commits.
func (r *Repo) TagCommit(ctx context.Context, tag string) (commit string, exists bool, err error) {
	if err := r.checkTag(ctx, tag); err != nil {
		return "", false, err
	}
	remote, onRemote, err := r.remoteTagCommit(ctx, tag)
	if err != nil {
		return "", false, err
	}
	local, onLocal, err := r.resolve(ctx, "refs/tags/"+tag)
	if err != nil {
		return "", false, err
	}
	switch {
	case onRemote && onLocal && remote != local:
		return "", false, fmt.Errorf("gitrepo: tag %s is at %s on remote %s but at %s in %s",
			tag, remote, r.remote(), local, r.Dir)
	case onRemote:
		return remote, true, nil
	case onLocal:
		return local, true, nil
	}
	return "", false, nil
}

// remoteTagCommit reads the tag from the remote with ls-remote, preferring the peeled
// (^{}) entry of an annotated tag over the tag object itself.
func (r *Repo) remoteTagCommit(ctx context.Context, tag string) (string, bool, error) {
	ref := "refs/tags/" + tag
	out, err := r.git(ctx, "ls-remote", "--tags", r.remote(), ref, ref+"^{}")
	if err != nil {
		return "", false, err
	}
	var direct, peeled string
	for _, line := range strings.Split(out, "\n") {
		oid, name, ok := strings.Cut(line, "\t")
		switch {
		case !ok:
		case name == ref:
			direct = oid
		case name == ref+"^{}":
			peeled = oid
		}
	}
	if peeled != "" {
		return peeled, true, nil
	}
	return direct, direct != "", nil
}

// CreateAnnotatedTag creates tag at commit in the clone. Annotated tags record who
// released and when. The tagger is Repo.Identity when set; otherwise git's environment
// (GIT_COMMITTER_NAME, GIT_COMMITTER_EMAIL) or config, falling back to
// FallbackName/FallbackEmail when neither is configured.
func (r *Repo) CreateAnnotatedTag(ctx context.Context, tag, commit, message string) error {
	if err := r.checkTag(ctx, tag); err != nil {
		return err
	}
	if err := checkRevision("commit", commit); err != nil {
		return err
	}
	opts, env, err := r.tagger(ctx)
	if err != nil {
		return err
	}
	args := append(opts, "tag", "--annotate", "--message="+message, tag, commit+"^{commit}")
	return r.run(ctx, io.Discard, env, args...)
}

// tagger returns the git options and environment that decide the tagger. Identity goes in
// the environment, which git ranks above config; the fallback goes in -c options, which
// rank below the environment, so they only fill what nothing else sets.
func (r *Repo) tagger(ctx context.Context) (opts, env []string, err error) {
	var id Identity
	if r.Identity != nil {
		id = *r.Identity
	}
	for _, f := range []struct{ value, envVar, key, fallback string }{
		{id.Name, "GIT_COMMITTER_NAME", "user.name", FallbackName},
		{id.Email, "GIT_COMMITTER_EMAIL", "user.email", FallbackEmail},
	} {
		if f.value != "" {
			env = append(env, f.envVar+"="+f.value)
			continue
		}
		set, err := r.configSet(ctx, f.key)
		if err != nil {
			return nil, nil, err
		}
		if !set {
			opts = append(opts, "-c", f.key+"="+f.fallback)
		}
	}
	return opts, env, nil
}

// PushTag pushes one tag to the remote without force, so an existing remote tag at
// another commit is refused rather than overwritten. Pushing a tag the remote already has
// at the same commit succeeds, which makes retries safe.
func (r *Repo) PushTag(ctx context.Context, tag string) error {
	if err := r.checkTag(ctx, tag); err != nil {
		return err
	}
	_, err := r.git(ctx, "push", "--quiet", r.remote(), "refs/tags/"+tag)
	return err
}

// configSet reports whether git config has a non-empty value for key.
func (r *Repo) configSet(ctx context.Context, key string) (bool, error) {
	out, err := r.git(ctx, "config", "--get", key)
	if err != nil {
		if exitCode(err) == 1 && ctx.Err() == nil {
			return false, nil
		}
		return false, err
	}
	return out != "", nil
}

// checkTag rejects names git would not accept as a tag, before they reach other commands.
func (r *Repo) checkTag(ctx context.Context, tag string) error {
	if err := checkRevision("tag", tag); err != nil {
		return err
	}
	if _, err := r.git(ctx, "check-ref-format", "refs/tags/"+tag); err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && exitCode(err) == 1 {
			return fmt.Errorf("gitrepo: invalid tag name %q", tag)
		}
		return err
	}
	return nil
}
