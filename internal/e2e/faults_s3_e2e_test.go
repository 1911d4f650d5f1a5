//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/faults"
	"github.com/opsflow/opsflow/internal/testsupport/privateserver"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// TestFaultsS3StoppedMidUpload: the nsc-exporter uploads a 40 MiB read to a private versitygw
// (through a thin uplink, so the stop lands mid-file); the server is killed (SIGKILL: the parts
// in flight are cut; a graceful stop would let them finish) with parts on it and started again. While it is down no manifest exists; once it is back the upload resumes
// from its parts, the object equals the file, the manifest is written after every file, and no
// multipart upload is left behind.
func TestFaultsS3StoppedMidUpload(t *testing.T) {
	t.Parallel()
	m := newMoversDeployment(t)
	srv := privateserver.StartS3(t)
	thin := faults.In(t, srv.Endpoint)
	thin.LimitUpload(8 * 1024)
	name := fmt.Sprintf("Diag-s3stop%d-NA1", m.stamp)
	dir := filepath.Join(m.exportDir, "samples", name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	body := make([]byte, 40<<20+333) // nine 5 MiB parts
	_, err := rand.Read(body)
	require.NoError(t, err)
	file := name + "_R1.fastq"
	require.NoError(t, os.WriteFile(filepath.Join(dir, file), body, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".sample"), []byte(`{"name":"`+name+`","reads":[]}`), 0o644))

	m.startWorkerNamed("worker", "OPSFLOW_S3_ENDPOINT="+thin.URL)
	out, err := m.starter("schedules", "apply")
	require.NoError(t, err, out)
	trigger := m.starterAsync("schedules", "trigger", "nsc-exporter", "--wait", "--timeout", "10m")

	c := srv.Client(t)
	ctx := waitCtx(t, 10*time.Minute)
	key := samplepkg.ObjectPrefix(samplepkg.KindSample, name) + file
	var parts int
	require.Eventually(t, func() bool {
		ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(m.importBucket), Prefix: aws.String(key)})
		if err != nil || len(ups.Uploads) == 0 {
			return false
		}
		ls, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(m.importBucket), Key: aws.String(key), UploadId: ups.Uploads[0].UploadId})
		parts = len(ls.Parts)
		return err == nil && parts >= 2
	}, 3*time.Minute, 100*time.Millisecond, "the upload never got two parts in")
	srv.Kill()
	manifest := srv.ObjectPath(m.importBucket, samplepkg.ManifestKey(samplepkg.KindSample, name))
	assert.NoFileExists(t, manifest, "no manifest for a half-uploaded package")

	var uploadID string
	require.Eventually(t, func() bool {
		ids := faultRunsOf(t, m.deployment, "PackageUpload")
		if len(ids) == 1 {
			uploadID = ids[0]
		}
		return uploadID != ""
	}, time.Minute, 200*time.Millisecond)
	failure := faultWaitFailedAttempt(t, m.deployment, uploadID, "UploadPackage", 3*time.Minute)
	assert.NoFileExists(t, manifest, "still no manifest while the server is down")
	srv.Start()

	out, err = trigger()
	require.NoError(t, err, out)
	assert.Contains(t, out, "succeeded 1, failed 0", out)
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.importBucket), Key: aws.String(key)})
	require.NoError(t, err)
	stored, err := io.ReadAll(got.Body)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(body, stored), "the object differs from the local file")
	mi, err := os.Stat(manifest)
	require.NoError(t, err, "the manifest is written once the package is whole")
	for _, f := range []string{file, name + ".sample"} {
		fi, err := os.Stat(srv.ObjectPath(m.importBucket, samplepkg.ObjectPrefix(samplepkg.KindSample, name)+f))
		require.NoError(t, err)
		assert.False(t, mi.ModTime().Before(fi.ModTime()), "the manifest was written after %s", f)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(m.importBucket)})
	require.NoError(t, err)
	assert.Empty(t, ups.Uploads, "no multipart upload left behind")

	var res activities.UploadResult
	require.NoError(t, m.client.GetWorkflow(ctx, uploadID, "").Get(ctx, &res))
	assert.Less(t, res.Sent, int64(len(body)), "the attempt after the restart resumed from the parts on the server")
	attempts, _ := faultAttempts(t, m.deployment, uploadID, "UploadPackage")
	require.Len(t, attempts, 1)
	assert.GreaterOrEqual(t, attempts[0], int32(2))
	privateserver.Report(t, privateserver.Result{Fault: "S3 server (private versitygw) killed (SIGKILL) mid-multipart-upload and started again",
		Procedure: "NSCExportScan → PackageUpload",
		Expected:  "no manifest while the package is partial; upload resumes from the parts on the server once it is back; object byte-identical; manifest last; no upload left",
		Observed: fmt.Sprintf("killed with %d parts in; attempt failed (%s); completed on attempt %d sending %d of %d bytes; manifest written after the files; no multipart upload left",
			parts, faultShort(strings.ReplaceAll(failure, name, "<sample>")), attempts[0], res.Sent, len(body))})
}

// TestFaultsS3NetworkDuringImport: a package import reads from the stack's S3 through a link with
// latency and a 4 MB/s downlink; mid-file the link resets every connection until the fetch
// attempt has failed, then heals. The retry resumes, the package is READY once and byte-identical.
func TestFaultsS3NetworkDuringImport(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	p := faults.In(t, s3test.Config().Endpoint)
	link := privateserver.LinkOf(t, p)
	link.Latency(50, 20)
	link.Bandwidth(0, 4096)
	d.startWorkerNamed("worker", "OPSFLOW_S3_ENDPOINT="+p.URL)
	c, err := s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the worker creates the import bucket at start
		_, err := c.HeadBucket(context.Background(), headBucket(d.importBucket))
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	name := fmt.Sprintf("Diag-s3net%d-NA2", time.Now().UnixNano()%1000000)
	raw := make([]byte, 24<<20+17)
	_, err = rand.Read(raw)
	require.NoError(t, err)
	sum := md5.Sum(raw)
	plantSamplePackage(t, c, d.importBucket, name, string(raw), hex.EncodeToString(sum[:]))

	wait := d.starterAsync("import", "--package", name, "--wait")
	var staged int64
	require.Eventually(t, func() bool {
		parts, _ := filepath.Glob(filepath.Join(d.dir, "durable", ".staging", "*", "*.part"))
		for _, f := range parts {
			if fi, err := os.Stat(f); err == nil && fi.Size() >= 4<<20 {
				staged = fi.Size()
				return true
			}
		}
		return false
	}, 3*time.Minute, 50*time.Millisecond, "the fetch never staged 4 MiB")
	link.Reset()
	var id string
	require.Eventually(t, func() bool {
		ids := faultRunsOf(t, d, "PackageImport")
		if len(ids) == 1 {
			id = ids[0]
		}
		return id != ""
	}, time.Minute, 200*time.Millisecond)
	failure := faultWaitFailedAttempt(t, d, id, "FetchPackage", 2*time.Minute)
	link.Clear(privateserver.FaultReset)

	out, err := wait()
	require.NoError(t, err, out)
	assert.Contains(t, out, "status: COMPLETED")
	assert.Equal(t, id, regexp.MustCompile(`workflow id: (\S+)`).FindStringSubmatch(out)[1])
	pkg := filepath.Join(d.dir, "durable", "samples", name)
	assert.FileExists(t, filepath.Join(pkg, "READY"))
	got, err := os.ReadFile(filepath.Join(pkg, name+"_R1.fastq.gz"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(raw, got), "the imported read differs from the object")
	leftovers, _ := filepath.Glob(filepath.Join(d.dir, "durable", ".staging", "*", "*"))
	assert.Empty(t, leftovers, "nothing left in staging")
	attempts, _ := faultAttempts(t, d, id, "FetchPackage")
	require.Len(t, attempts, 1)
	assert.GreaterOrEqual(t, attempts[0], int32(2))
	privateserver.Report(t, privateserver.Result{Fault: "S3 link: latency 50±20 ms, 4 MB/s downlink, every connection reset mid-file (toxiproxy)",
		Procedure: "PackageImport",
		Expected:  "the fetch attempt fails on the reset; the retry resumes the object once the link heals; READY once, byte-identical",
		Observed: fmt.Sprintf("reset at %d bytes staged: %s; completed on attempt %d; READY, %d bytes identical, staging empty",
			staged, faultShort(strings.ReplaceAll(failure, name, "<sample>")), attempts[0], len(raw))})
}
