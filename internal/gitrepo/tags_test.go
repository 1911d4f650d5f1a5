package gitrepo

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTagPushedIsSeenFromFreshClone(t *testing.T) {
	f := newFixture(t, "master")
	ctx := context.Background()
	r := f.repo(f.clone)
	require.NoError(t, r.Fetch(ctx))
	_, head, err := r.ReleaseBranchHead(ctx)
	require.NoError(t, err)

	require.NoError(t, r.CreateAnnotatedTag(ctx, "v1.2.3-rel", head, "Release v1.2.3-rel"))
	require.NoError(t, r.PushTag(ctx, "v1.2.3-rel"))
	require.NoError(t, r.PushTag(ctx, "v1.2.3-rel"), "re-pushing the same tag is a no-op")

	fresh := f.repo(f.cloneOrigin("fresh"))
	commit, exists, err := fresh.TagCommit(ctx, "v1.2.3-rel")
	require.NoError(t, err)
	assert.True(t, exists)
	assert.Equal(t, head, commit, "the annotated tag is peeled to its commit")

	assert.Equal(t, "tag", f.git(f.origin, "cat-file", "-t", "refs/tags/v1.2.3-rel"))
	assert.Equal(t, "Release Tester <tester@opsflow.invalid>",
		f.git(f.origin, "tag", "-l", "--format=%(taggername) %(taggeremail)", "v1.2.3-rel"))
	assert.Equal(t, "Release v1.2.3-rel", f.git(f.origin, "tag", "-l", "--format=%(contents:subject)", "v1.2.3-rel"))
}

func TestCreateAnnotatedTagFallsBackToOpsflowIdentity(t *testing.T) {
	f := newFixture(t, "master")
	home := t.TempDir()
	r := &Repo{Dir: f.clone, Env: []string{"HOME=" + home, "XDG_CONFIG_HOME=" + home, "GIT_CONFIG_NOSYSTEM=1"}}

	require.NoError(t, r.CreateAnnotatedTag(context.Background(), "v0.1.0-rel", "HEAD", "Release v0.1.0-rel"))
	assert.Equal(t, "opsflow <opsflow@localhost>",
		f.git(f.clone, "tag", "-l", "--format=%(taggername) %(taggeremail)", "v0.1.0-rel"))
}

func TestCreateAnnotatedTagUsesIdentity(t *testing.T) {
	f := newFixture(t, "master")
	r := f.repo(f.clone)
	r.Identity = &Identity{Name: "Release Bot", Email: "release-bot@opsflow.invalid"}

	require.NoError(t, r.CreateAnnotatedTag(context.Background(), "v0.2.0-rel", "HEAD", "Release v0.2.0-rel"))
	assert.Equal(t, "Release Bot <release-bot@opsflow.invalid>",
		f.git(f.clone, "tag", "-l", "--format=%(taggername) %(taggeremail)", "v0.2.0-rel"),
		"Identity wins over the GIT_COMMITTER_* environment")
}

func TestTagCommitTagAlreadyOnRemoteAtSameCommit(t *testing.T) {
	f := newFixture(t, "master")
	ctx := context.Background()
	head := f.git(f.clone, "rev-parse", "HEAD")
	// Another operator released v1.0.0-rel from their own clone.
	other := f.repo(f.cloneOrigin("other"))
	require.NoError(t, other.CreateAnnotatedTag(ctx, "v1.0.0-rel", head, "Release v1.0.0-rel"))
	require.NoError(t, other.PushTag(ctx, "v1.0.0-rel"))

	r := f.repo(f.clone)
	require.NoError(t, r.Fetch(ctx))
	ok, err := r.RefExists(ctx, "refs/tags/v1.0.0-rel")
	require.NoError(t, err)
	require.True(t, ok, "Fetch brings the tag into the clone")

	commit, exists, err := r.TagCommit(ctx, "v1.0.0-rel")
	require.NoError(t, err, "the same commit locally and on the remote is no conflict")
	assert.True(t, exists)
	assert.Equal(t, head, commit)
}

func TestFetchKeepsUnpushedLocalTag(t *testing.T) {
	f := newFixture(t, "master")
	ctx := context.Background()
	r := f.repo(f.clone)
	head := f.git(f.clone, "rev-parse", "HEAD")
	require.NoError(t, r.CreateAnnotatedTag(ctx, "v1.0.1-rel", head, "Release v1.0.1-rel"))

	// An interrupted run tagged but did not push; the retry fetches first.
	require.NoError(t, r.Fetch(ctx))
	commit, exists, err := r.TagCommit(ctx, "v1.0.1-rel")
	require.NoError(t, err)
	assert.True(t, exists, "--prune must not delete tags the remote lacks")
	assert.Equal(t, head, commit)
}

func TestTagCommitRemoteOnlyAndLocalOnly(t *testing.T) {
	f := newFixture(t, "master")
	ctx := context.Background()
	other := f.repo(f.cloneOrigin("other"))
	r := f.repo(f.clone)
	head := f.git(f.clone, "rev-parse", "HEAD")

	require.NoError(t, r.CreateAnnotatedTag(ctx, "v1.0.0-rel", head, "Release v1.0.0-rel"))
	commit, exists, err := r.TagCommit(ctx, "v1.0.0-rel")
	require.NoError(t, err)
	assert.True(t, exists, "an unpushed local tag still counts")
	assert.Equal(t, head, commit)

	commit, exists, err = other.TagCommit(ctx, "v1.0.0-rel")
	require.NoError(t, err)
	assert.False(t, exists)
	assert.Empty(t, commit)

	require.NoError(t, r.PushTag(ctx, "v1.0.0-rel"))
	commit, exists, err = other.TagCommit(ctx, "v1.0.0-rel")
	require.NoError(t, err)
	assert.True(t, exists, "a remote tag not yet fetched is found")
	assert.Equal(t, head, commit)
}

func TestTagCommitLocalAndRemoteDisagree(t *testing.T) {
	f := newFixture(t, "master")
	ctx := context.Background()
	first := f.git(f.clone, "rev-parse", "HEAD")
	other := f.repo(f.cloneOrigin("other"))
	r := f.repo(f.clone)

	require.NoError(t, r.CreateAnnotatedTag(ctx, "v2.0.0-rel", first, "Release v2.0.0-rel"))
	require.NoError(t, r.PushTag(ctx, "v2.0.0-rel"))
	second := f.commit("later", map[string]string{"lims-exporter/main.py": "print('lims 2')\n"})
	f.git(f.clone, "push", "-q", "origin", "master")
	require.NoError(t, other.Fetch(ctx))
	// Simulate a stray local tag: other tags v2.0.0-rel at the newer commit locally.
	f.git(other.Dir, "tag", "-f", "-a", "-m", "stray", "v2.0.0-rel", second)

	_, _, err := other.TagCommit(ctx, "v2.0.0-rel")
	require.Error(t, err)
	assert.Contains(t, err.Error(), first)
	assert.Contains(t, err.Error(), second)
	assert.Contains(t, err.Error(), "v2.0.0-rel")

	err = other.Fetch(ctx)
	require.Error(t, err, "fetch must not move a local tag to the remote's commit")
	assert.Contains(t, err.Error(), "v2.0.0-rel")

	f.git(f.clone, "tag", "-f", "-a", "-m", "moved", "v2.0.0-rel", second)
	assert.Error(t, r.PushTag(ctx, "v2.0.0-rel"), "push must not move a remote tag")
}

func TestInvalidTagNames(t *testing.T) {
	f := newFixture(t, "master")
	r := f.repo(f.clone)
	for _, tag := range []string{"", "-f", "bad..tag", "sp ace"} {
		_, _, err := r.TagCommit(context.Background(), tag)
		assert.ErrorContains(t, err, "invalid tag", tag)
		assert.ErrorContains(t, r.PushTag(context.Background(), tag), "invalid tag", tag)
	}
}
