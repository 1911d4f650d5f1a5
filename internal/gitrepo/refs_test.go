package gitrepo

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReleaseBranchHeadPrefersMaster(t *testing.T) {
	f := newFixture(t, "master")
	head := f.git(f.clone, "rev-parse", "HEAD")
	f.git(f.clone, "push", "-q", "origin", "master:main")
	r := f.repo(f.clone)
	require.NoError(t, r.Fetch(context.Background()))

	branch, commit, err := r.ReleaseBranchHead(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "master", branch)
	assert.Equal(t, head, commit)
}

func TestReleaseBranchHeadFallsBackToMain(t *testing.T) {
	f := newFixture(t, "main")
	head := f.git(f.clone, "rev-parse", "HEAD")
	r := f.repo(f.clone)
	require.NoError(t, r.Fetch(context.Background()))

	branch, commit, err := r.ReleaseBranchHead(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "main", branch)
	assert.Equal(t, head, commit)
}

func TestReleaseBranchHeadFollowsRemoteNotCheckout(t *testing.T) {
	f := newFixture(t, "master")
	pushed := f.git(f.clone, "rev-parse", "HEAD")
	f.commit("unpushed work", map[string]string{"lims-exporter/wip.py": "wip\n"})

	_, commit, err := f.repo(f.clone).ReleaseBranchHead(context.Background())
	require.NoError(t, err)
	assert.Equal(t, pushed, commit)
}

func TestReleaseBranchHeadNoCandidate(t *testing.T) {
	f := newFixture(t, "master")
	_, _, err := f.repo(f.clone).ReleaseBranchHead(context.Background(), "release", "stable")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "release, stable")
	assert.Contains(t, err.Error(), "origin")
}

func TestChangedPathsBetweenTags(t *testing.T) {
	f := newFixture(t, "master")
	r := f.repo(f.clone)
	ctx := context.Background()
	require.NoError(t, r.CreateAnnotatedTag(ctx, "v1.0.0-rel", "HEAD", "Release v1.0.0-rel"))
	f.commit("nsc fix", map[string]string{"nsc-exporter/main.py": "print('nsc 2')\n", "nsc-exporter/new file.txt": "x\n"})
	require.NoError(t, r.CreateAnnotatedTag(ctx, "v1.1.0-rel", "HEAD", "Release v1.1.0-rel"))

	paths, err := r.ChangedPaths(ctx, "refs/tags/v1.0.0-rel", "refs/tags/v1.1.0-rel")
	require.NoError(t, err)
	assert.Equal(t, []string{"nsc-exporter/main.py", "nsc-exporter/new file.txt"}, paths)

	paths, err = r.ChangedPaths(ctx, "refs/tags/v1.1.0-rel", "refs/tags/v1.1.0-rel")
	require.NoError(t, err)
	assert.Empty(t, paths)
}

func TestRefExists(t *testing.T) {
	f := newFixture(t, "master")
	r := f.repo(f.clone)
	ok, err := r.RefExists(context.Background(), "refs/remotes/origin/master")
	require.NoError(t, err)
	assert.True(t, ok)

	ok, err = r.RefExists(context.Background(), "refs/tags/v9.9.9-rel")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestErrorsNameTheProblem(t *testing.T) {
	f := newFixture(t, "master")
	ctx := context.Background()

	missing := filepath.Join(f.root, "no-such-clone")
	_, err := (&Repo{Dir: missing}).RefExists(ctx, "HEAD")
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing)
	assert.Error(t, (&Repo{Dir: missing}).Fetch(ctx))

	notRepo := t.TempDir()
	// The ceiling keeps git from finding a repository above the temp dir.
	env := append(slices.Clone(f.env), "GIT_CEILING_DIRECTORIES="+filepath.Dir(notRepo))
	_, err = (&Repo{Dir: notRepo, Env: env}).RefExists(ctx, "HEAD")
	require.Error(t, err, "a directory that is not a clone is a failure, not a missing ref")
	assert.Contains(t, err.Error(), notRepo)

	r := f.repo(f.clone)
	_, err = r.ChangedPaths(ctx, "refs/tags/v0.0.1-rel", "HEAD")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refs/tags/v0.0.1-rel")
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.NotEmpty(t, ce.Stderr)

	_, err = r.RefExists(ctx, "--all")
	assert.ErrorContains(t, err, `"--all"`)
}
