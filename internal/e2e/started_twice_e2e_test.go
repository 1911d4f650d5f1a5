//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// TestReleaseAndImportStartedTwiceFollowTheRunningRun starts a release and an import while
// no worker runs, so both stay in flight, then runs the same commands again. The second
// `opsflow release` / `opsflow import` must say the run is already running (workflow id, run
// id, Web UI link) instead of printing "started" for a run it did not start, and with --wait
// follow that run to its end once a worker picks it up. A release started again after it
// completed starts a new, idempotent run, as README promises.
func TestReleaseAndImportStartedTwiceFollowTheRunningRun(t *testing.T) {
	d := newDeployment(t)
	c, err := s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	require.NoError(t, s3store.EnsureBucket(context.Background(), c, d.importBucket))
	pkg := fmt.Sprintf("Diag-wgs%d-NA12878-TWICE", time.Now().UnixNano()%1000000)
	body := "@r1\nACGT\n+\nIIII\n"
	sum := md5.Sum([]byte(body))
	plantSamplePackage(t, c, d.importBucket, pkg, body, hex.EncodeToString(sum[:]))

	releaseID := "release-v1.0.0-rel-" + d.taskQueue
	out, err := d.starter("release", "--version", "v1.0.0-rel", "--workflow-id", releaseID)
	require.NoError(t, err, out)
	assert.Contains(t, out, "started ReleaseDeploy v1.0.0-rel")
	firstRun := runID(t, out)

	out, err = d.starter("import", "--package", pkg)
	require.NoError(t, err, out)
	assert.Contains(t, out, "started PackageImport")
	importID := regexp.MustCompile(`workflow id: (\S+)`).FindStringSubmatch(out)[1]

	// Again, while both are in flight (no worker yet).
	out, err = d.starter("release", "--version", "v1.0.0-rel", "--workflow-id", releaseID)
	require.NoError(t, err, out)
	assert.NotContains(t, out, "started")
	assert.Contains(t, out, "ReleaseDeploy v1.0.0-rel is already running")
	assert.Contains(t, out, "workflow id: "+releaseID)
	assert.Equal(t, firstRun, runID(t, out), "the running run, not a new one")
	assert.Contains(t, out, "/workflows/"+releaseID+"/"+firstRun)

	out, err = d.starter("import", "--package", pkg)
	require.NoError(t, err, out)
	assert.NotContains(t, out, "started")
	assert.Contains(t, out, "PackageImport of this package is already running")
	assert.Contains(t, out, "workflow id: "+importID)
	assert.NotContains(t, out, "NA12878", "the package name stays out of the output's ids")

	// With --wait the second command follows the running run to its end, once a worker runs.
	releaseWait := d.starterAsync("release", "--version", "v1.0.0-rel", "--workflow-id", releaseID, "--wait")
	importWait := d.starterAsync("import", "--package", pkg, "--wait")
	time.Sleep(2 * time.Second) // both have found the runs in flight
	d.startWorker()
	out, err = releaseWait()
	require.NoError(t, err, out)
	assert.Contains(t, out, "already running")
	assert.Equal(t, firstRun, runID(t, out))
	assert.Contains(t, out, "status: COMPLETED")
	assertRuns(t, d, "nsc", "v1.0.0-rel")
	out, err = importWait()
	require.NoError(t, err, out)
	assert.Contains(t, out, "already running")
	assert.Contains(t, out, "status: COMPLETED")

	// Completed: the same command starts a new run, which finds everything done.
	out, err = d.starter("release", "--version", "v1.0.0-rel", "--workflow-id", releaseID, "--wait")
	require.NoError(t, err, out)
	assert.Contains(t, out, "started ReleaseDeploy v1.0.0-rel")
	assert.NotEqual(t, firstRun, runID(t, out))
	assert.Contains(t, out, "already running v1.0.0-rel", "sites on the version are skipped")
	assert.Contains(t, out, "status: COMPLETED")
}

// starterAsync starts the opsflow starter and returns a function that waits for its output.
func (d *deployment) starterAsync(args ...string) func() (string, error) {
	cmd := exec.Command(filepath.Join(d.bin, "opsflow"), args...)
	cmd.Env = d.env
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	require.NoError(d.t, cmd.Start())
	return func() (string, error) {
		err := cmd.Wait()
		return buf.String(), err
	}
}

func runID(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`run id:\s+(\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "no run id in:\n%s", out)
	return m[1]
}
