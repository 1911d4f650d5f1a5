package activities

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

const goodService = "#!/bin/sh\nexec sleep 1000\n"

// siteFixture is one site on disk, a real supervisord running its service, a real S3 bucket.
type siteFixture struct {
	acts   *SiteFilesActivities
	svc    *SupervisorActivities
	sup    *supervisordtest.Instance
	s3     *s3.Client
	bucket string
	dir    string
}

func newSiteFixture(t *testing.T) *siteFixture {
	t.Helper()
	dir := t.TempDir()
	sup := supervisordtest.Start(t, supervisordtest.Program{
		Name: "svc-a", Command: "/bin/sh " + filepath.Join(dir, "sw", "tsd-import", "bin", "svc-a"), Directory: dir, StartSecs: 1,
	})
	c, bucket := s3test.NewBucket(t)
	site := release.Site{Name: "nsc", Dir: dir, Services: []release.Service{
		{Name: "svc-a", SupervisorURL: sup.URL, SupervisorUser: sup.Username, SupervisorPassword: sup.Password},
	}}
	svc := &SupervisorActivities{Site: site, Package: "tsd-import", StableFor: 1500 * time.Millisecond}
	return &siteFixture{
		acts: &SiteFilesActivities{Site: site, S3: c, Package: "tsd-import", KeepVersions: 2, Services: svc},
		svc:  svc, sup: sup, s3: c, bucket: bucket, dir: dir,
	}
}

// releaseTarball builds a tsd-import release tree as CI would: one top-level directory.
func releaseTarball(t *testing.T, version, service string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	top := "tsd-import-" + version + "/"
	add := func(name string, mode int64, body string) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: top + name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	add("VERSION", 0o644, version+"\n")
	add("bin/svc-a", 0o755, service)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

// publish uploads a tarball as the artifact of version and returns its descriptor.
func (f *siteFixture) publish(t *testing.T, version string, body []byte) Artifact {
	sum := sha256.Sum256(body)
	key := release.ArtifactKey("tsd-import", version)
	hexSum := hex.EncodeToString(sum[:])
	s3test.Put(t, f.s3, f.bucket, key, body, map[string]string{release.ArtifactSHA256Metadata: hexSum})
	return Artifact{Version: version, Bucket: f.bucket, Key: key, SHA256: hexSum, Size: int64(len(body))}
}

func (f *siteFixture) env() *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	if f.svc != nil {
		env.RegisterActivity(f.svc)
	}
	return env
}

// deploy runs archive → stop → extract → start as the workflow does.
func (f *siteFixture) deploy(t *testing.T, version, service string) ExtractResult {
	t.Helper()
	art := f.publish(t, version, releaseTarball(t, version, service))
	env := f.env()
	v, err := env.ExecuteActivity(f.acts.ArchiveArtifact, art)
	require.NoError(t, err)
	var archived ArchiveResult
	require.NoError(t, v.Get(&archived))
	_, err = env.ExecuteActivity(f.svc.StopServices, ServicesInput{Services: []string{"svc-a"}})
	require.NoError(t, err)
	v, err = env.ExecuteActivity(f.acts.ExtractRelease, ExtractInput{Version: version, ArchivePath: archived.Path})
	require.NoError(t, err)
	var ex ExtractResult
	require.NoError(t, v.Get(&ex))
	_, err = env.ExecuteActivity(f.svc.StartServices, ServicesInput{Services: []string{"svc-a"}})
	require.NoError(t, err)
	return ex
}

func (f *siteFixture) current(t *testing.T) string {
	t.Helper()
	v, err := f.acts.DeployedVersion(context.Background())
	require.NoError(t, err)
	return v
}

func (f *siteFixture) state(t *testing.T) string {
	info, err := f.sup.Client(t).ProcessInfo(context.Background(), "svc-a")
	require.NoError(t, err)
	return info.StateName
}

func requireAppError(t *testing.T, err error, errType string) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want ApplicationError, got %T: %v", err, err)
	assert.Equal(t, errType, app.Type(), app.Error())
	assert.True(t, app.NonRetryable(), "%s must not be retried", errType)
	return app
}

func TestSiteDeployCycleOnRealSupervisord(t *testing.T) {
	f := newSiteFixture(t)
	assert.Equal(t, "", f.current(t), "nothing deployed yet")

	ex := f.deploy(t, "v1.0.0-rel", goodService)
	assert.Equal(t, ExtractResult{Previous: "", Current: "v1.0.0-rel"}, ex)
	assert.Equal(t, "v1.0.0-rel", f.current(t))
	assert.Equal(t, "RUNNING", f.state(t))
	assert.FileExists(t, filepath.Join(f.dir, "sw", "archive", "tsd-import-v1.0.0-rel.tar.gz"))

	ex = f.deploy(t, "v1.1.0-rel", goodService)
	assert.Equal(t, "v1.0.0-rel", ex.Previous)
	ex = f.deploy(t, "v1.2.0-rel", goodService)
	assert.Equal(t, []string{"tsd-import-v1.0.0-rel"}, ex.Removed, "only versions beyond current+previous are removed")
	assert.DirExists(t, filepath.Join(f.dir, "sw", "releases", "tsd-import-v1.1.0-rel"))
	assert.NoDirExists(t, filepath.Join(f.dir, "sw", "releases", "tsd-import-v1.0.0-rel"))

	v, err := f.env().ExecuteActivity(f.acts.RollbackRelease, RollbackInput{Previous: "v1.1.0-rel", Failed: "v1.2.0-rel", Services: []string{"svc-a"}})
	require.NoError(t, err)
	var rb RollbackResult
	require.NoError(t, v.Get(&rb))
	assert.Equal(t, "v1.1.0-rel", rb.Current)
	assert.Equal(t, "v1.1.0-rel", f.current(t))
	assert.Equal(t, "RUNNING", f.state(t))
}

func TestArchiveNeverOverwritesADifferentFile(t *testing.T) {
	f := newSiteFixture(t)
	art := f.publish(t, "v1.0.0-rel", releaseTarball(t, "v1.0.0-rel", goodService))
	existing := filepath.Join(f.dir, "sw", "archive", "tsd-import-v1.0.0-rel.tar.gz")
	require.NoError(t, os.MkdirAll(filepath.Dir(existing), 0o755))
	require.NoError(t, os.WriteFile(existing, []byte("an operator's hand-copied file"), 0o644))

	_, err := f.env().ExecuteActivity(f.acts.ArchiveArtifact, art)
	app := requireAppError(t, err, ErrArchiveConflict)
	assert.Contains(t, app.Error(), existing)
	data, _ := os.ReadFile(existing)
	assert.Equal(t, "an operator's hand-copied file", string(data), "existing archive untouched")
}

func TestArchiveRejectsChecksumMismatch(t *testing.T) {
	f := newSiteFixture(t)
	art := f.publish(t, "v1.0.0-rel", releaseTarball(t, "v1.0.0-rel", goodService))
	art.SHA256 = strings.Repeat("0", 64)
	_, err := f.env().ExecuteActivity(f.acts.ArchiveArtifact, art)
	requireAppError(t, err, ErrChecksumMismatch)
	entries, _ := os.ReadDir(filepath.Join(f.dir, "sw", "archive"))
	assert.Empty(t, entries, "no archive and no partial download left behind")
}

func TestArchiveResumesFromHeartbeatOffset(t *testing.T) {
	f := newSiteFixture(t)
	body := releaseTarball(t, "v1.0.0-rel", goodService)
	art := f.publish(t, "v1.0.0-rel", body)
	part := filepath.Join(f.dir, "sw", "archive", "tsd-import-v1.0.0-rel.tar.gz.part")
	require.NoError(t, os.MkdirAll(filepath.Dir(part), 0o755))
	half := int64(len(body) / 2)

	// A corrupted prefix proves the resumed download kept the first half instead of
	// fetching everything again: the checksum then fails.
	require.NoError(t, os.WriteFile(part, bytes.Repeat([]byte{'x'}, int(half)), 0o644))
	env := f.env()
	env.SetHeartbeatDetails(half)
	_, err := env.ExecuteActivity(f.acts.ArchiveArtifact, art)
	requireAppError(t, err, ErrChecksumMismatch)

	// The real prefix: the resumed download completes and verifies.
	require.NoError(t, os.WriteFile(part, body[:half], 0o644))
	env = f.env()
	env.SetHeartbeatDetails(half)
	v, err := env.ExecuteActivity(f.acts.ArchiveArtifact, art)
	require.NoError(t, err)
	var res ArchiveResult
	require.NoError(t, v.Get(&res))
	data, err := os.ReadFile(res.Path)
	require.NoError(t, err)
	assert.Equal(t, body, data)
	assert.NoFileExists(t, part)
}

func TestExtractRejectsUnsafeTarballAndKeepsTheRunningVersion(t *testing.T) {
	for _, name := range []string{"dotdot.tar.gz", "absolute.tar.gz", "symlink-escape.tar.gz", "hardlink-escape.tar.gz", "device.tar.gz", "truncated.tar.gz"} {
		t.Run(name, func(t *testing.T) {
			f := newSiteFixture(t)
			f.deploy(t, "v1.0.0-rel", goodService)
			before := listTree(t, filepath.Join(f.dir, "sw", "releases"))

			_, err := f.env().ExecuteActivity(f.acts.ExtractRelease, ExtractInput{
				Version: "v1.1.0-rel", ArchivePath: filepath.Join("..", "testdata", "tarballs", name)})
			requireAppError(t, err, ErrUnsafeArchive)
			assert.Equal(t, "v1.0.0-rel", f.current(t))
			assert.Equal(t, before, listTree(t, filepath.Join(f.dir, "sw", "releases")), "nothing written, nothing removed")
			assert.NoFileExists(t, filepath.Join(f.dir, "escape.txt"))
		})
	}
}

func TestExtractRejectsWrongVersion(t *testing.T) {
	f := newSiteFixture(t)
	f.deploy(t, "v1.0.0-rel", goodService)
	path := filepath.Join(t.TempDir(), "tsd-import-v1.1.0-rel.tar.gz")
	require.NoError(t, os.WriteFile(path, releaseTarball(t, "v9.9.9-rel", goodService), 0o644))
	_, err := f.env().ExecuteActivity(f.acts.ExtractRelease, ExtractInput{Version: "v1.1.0-rel", ArchivePath: path})
	app := requireAppError(t, err, ErrVersionMismatch)
	assert.Contains(t, app.Error(), `"v9.9.9-rel"`)
	assert.Equal(t, "v1.0.0-rel", f.current(t))
	assert.NoDirExists(t, filepath.Join(f.dir, "sw", "releases", "tsd-import-v1.1.0-rel"))
}

func TestStartOfACrashingServiceIsNotRetried(t *testing.T) {
	f := newSiteFixture(t)
	f.deploy(t, "v1.0.0-rel", goodService)
	art := f.publish(t, "v1.1.0-rel", releaseTarball(t, "v1.1.0-rel", "#!/bin/sh\nexit 3\n"))
	env := f.env()
	v, err := env.ExecuteActivity(f.acts.ArchiveArtifact, art)
	require.NoError(t, err)
	var archived ArchiveResult
	require.NoError(t, v.Get(&archived))
	_, err = env.ExecuteActivity(f.svc.StopServices, ServicesInput{Services: []string{"svc-a"}})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(f.acts.ExtractRelease, ExtractInput{Version: "v1.1.0-rel", ArchivePath: archived.Path})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(f.svc.StartServices, ServicesInput{Services: []string{"svc-a"}})
	app := requireAppError(t, err, ErrServiceStartFailed)
	assert.Contains(t, app.Error(), "svc-a")

	_, err = env.ExecuteActivity(f.acts.RollbackRelease, RollbackInput{Previous: "v1.0.0-rel", Failed: "v1.1.0-rel", Services: []string{"svc-a"}})
	require.NoError(t, err)
	assert.Equal(t, "v1.0.0-rel", f.current(t))
	assert.Equal(t, "RUNNING", f.state(t))
}

func TestUnknownServiceAndMissingPreviousAreClearErrors(t *testing.T) {
	f := newSiteFixture(t)
	_, err := f.env().ExecuteActivity(f.svc.StopServices, ServicesInput{Services: []string{"no-such-service"}})
	app := requireAppError(t, err, ErrUnknownService)
	assert.Contains(t, app.Error(), `"no-such-service"`)

	_, err = f.env().ExecuteActivity(f.acts.RollbackRelease, RollbackInput{Previous: "", Failed: "v1.0.0-rel", Services: []string{"svc-a"}})
	app = requireAppError(t, err, ErrNoPreviousVersion)
	assert.Contains(t, app.Error(), "STOPPED")
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestPlanSiteDeployTouchesNothing(t *testing.T) {
	f := newSiteFixture(t)
	f.deploy(t, "v1.0.0-rel", goodService)
	pidBefore, err := f.sup.Client(t).ProcessInfo(context.Background(), "svc-a")
	require.NoError(t, err)
	before := listTree(t, f.dir)

	art := Artifact{Version: "v1.1.0-rel", Bucket: f.bucket, Key: release.ArtifactKey("tsd-import", "v1.1.0-rel"), Planned: true}
	v, err := f.env().ExecuteActivity(f.acts.PlanSiteDeploy, SitePlanInput{Version: "v1.1.0-rel", Artifact: art, Services: []string{"svc-a", "svc-missing"}})
	require.NoError(t, err)
	var plan SitePlan
	require.NoError(t, v.Get(&plan))
	joined := strings.Join(plan.Actions, "\n")
	assert.Contains(t, joined, "download s3://"+f.bucket)
	assert.Contains(t, joined, "stop svc-a (now RUNNING)")
	assert.Contains(t, joined, `previous: "v1.0.0-rel"`)
	require.Len(t, plan.Problems, 1)
	assert.Contains(t, plan.Problems[0], `"svc-missing"`)

	assert.Equal(t, before, listTree(t, f.dir), "no file written or removed")
	after, err := f.sup.Client(t).ProcessInfo(context.Background(), "svc-a")
	require.NoError(t, err)
	assert.Equal(t, pidBefore.PID, after.PID, "service not restarted")
	assert.Equal(t, "v1.0.0-rel", f.current(t))
}

// A rollback whose previous version is gone from the site cannot succeed by retrying: it
// must fail at once, naming the missing directory, instead of retrying for an hour while
// the services stay stopped.
func TestRollbackToAMissingPreviousVersionFailsAtOnce(t *testing.T) {
	f := newSiteFixture(t)
	f.deploy(t, "v1.0.0-rel", goodService)
	f.deploy(t, "v1.1.0-rel", goodService)
	missing := filepath.Join(f.dir, "sw", "releases", "tsd-import-v1.0.0-rel")
	require.NoError(t, os.RemoveAll(missing))

	_, err := f.env().ExecuteActivity(f.acts.RollbackRelease, RollbackInput{Previous: "v1.0.0-rel", Failed: "v1.1.0-rel", Services: []string{"svc-a"}})
	app := requireAppError(t, err, ErrPreviousVersionMissing)
	assert.Contains(t, app.Error(), missing)
	assert.Equal(t, "v1.1.0-rel", f.current(t), "nothing switched")
}
