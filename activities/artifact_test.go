package activities

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/gitrepo"
	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/testsupport/releaserepo"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// fixedSource hands out a prepared tarball, standing in for a CI job's output.
type fixedSource struct{ body []byte }

func (s fixedSource) Name() string { return "fixed test source" }
func (s fixedSource) Fetch(_ context.Context, _, _ string, w io.Writer) error {
	_, err := w.Write(s.body)
	return err
}

func TestExportArtifactFromTagToS3(t *testing.T) {
	dir := t.TempDir()
	r := releaserepo.New(t, dir)
	repo := &gitrepo.Repo{Dir: r.Clone, Remote: "origin", Env: r.Env}
	gitOut(t, r.Env, r.Clone, "tag", "-a", "v1.0.0-rel", "-m", "Release v1.0.0-rel")
	commit := r.Git(t, "rev-parse", "HEAD")
	c, bucket := s3test.NewBucket(t)
	acts := &ArtifactActivities{Source: &LocalGitSource{Repo: repo, Package: "tsd-import"}, S3: c, Bucket: bucket, Package: "tsd-import"}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)

	v, err := env.ExecuteActivity(acts.ExportArtifact, ExportInput{Version: "v1.0.0-rel", Commit: commit})
	require.NoError(t, err)
	var art Artifact
	require.NoError(t, v.Get(&art))
	assert.Equal(t, "tsd-import/v1.0.0-rel/tsd-import-v1.0.0-rel.tar.gz", art.Key)
	assert.False(t, art.Reused)

	// Download and check: checksum, VERSION inside, the service scripts.
	body, err := s3store.GetRange(context.Background(), c, bucket, art.Key, 0)
	require.NoError(t, err)
	local := filepath.Join(t.TempDir(), "a.tar.gz")
	f, err := os.Create(local)
	require.NoError(t, err)
	_, err = io.Copy(f, body)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	body.Close()
	sum, size, err := checksum.SHA256File(local)
	require.NoError(t, err)
	assert.Equal(t, art.SHA256, sum)
	assert.Equal(t, art.Size, size)
	require.NoError(t, verifyArtifact(local, filepath.Join(t.TempDir(), "x"), "v1.0.0-rel"))

	// Exporting again reuses the stored artifact.
	v, err = env.ExecuteActivity(acts.ExportArtifact, ExportInput{Version: "v1.0.0-rel", Commit: commit})
	require.NoError(t, err)
	var again Artifact
	require.NoError(t, v.Get(&again))
	assert.True(t, again.Reused)
	assert.Equal(t, art.SHA256, again.SHA256)

	// Same version from another commit: refused, stored artifact untouched.
	_, err = env.ExecuteActivity(acts.ExportArtifact, ExportInput{Version: "v1.0.0-rel", Commit: "0123456789abcdef0123456789abcdef01234567"})
	requireAppError(t, err, ErrArchiveConflict)
}

func TestExportRefusesAnArtifactOfAnotherVersion(t *testing.T) {
	c, bucket := s3test.NewBucket(t)
	acts := &ArtifactActivities{Source: fixedSource{releaseTarball(t, "v1.0.0-rel", goodService)}, S3: c, Bucket: bucket, Package: "tsd-import"}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	_, err := env.ExecuteActivity(acts.ExportArtifact, ExportInput{Version: "v2.0.0-rel", Commit: "abc"})
	app := requireAppError(t, err, ErrVersionMismatch)
	assert.Contains(t, app.Error(), `"v1.0.0-rel"`)
	_, found, err := s3store.Head(context.Background(), c, bucket, release.ArtifactKey("tsd-import", "v2.0.0-rel"))
	require.NoError(t, err)
	assert.False(t, found, "nothing uploaded")
}

func TestExportRefusesAnUnsafeArtifact(t *testing.T) {
	c, bucket := s3test.NewBucket(t)
	evil, err := os.ReadFile(filepath.Join("..", "testdata", "tarballs", "dotdot.tar.gz"))
	require.NoError(t, err)
	acts := &ArtifactActivities{Source: fixedSource{evil}, S3: c, Bucket: bucket, Package: "tsd-import"}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	_, err = env.ExecuteActivity(acts.ExportArtifact, ExportInput{Version: "v1.0.0-rel", Commit: "abc"})
	requireAppError(t, err, ErrUnsafeArchive)
	_, found, err := s3store.Head(context.Background(), c, bucket, release.ArtifactKey("tsd-import", "v1.0.0-rel"))
	require.NoError(t, err)
	assert.False(t, found)
}
