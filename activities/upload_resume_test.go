package activities

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// checkUploaded asserts the package's objects are its local files byte for byte (SHA-256 of
// the downloads) and its manifest lists them.
func checkUploaded(t *testing.T, a *UploadActivities, kind samplepkg.Kind, name string, files map[string][]byte) {
	key := samplepkg.ManifestKey(kind, name)
	m, err := samplepkg.ParseManifest(key, getObject(t, a, key))
	require.NoError(t, err)
	require.Len(t, m.Files, len(files))
	for _, f := range m.Files {
		body, ok := files[f.Path]
		require.True(t, ok, f.Path)
		assert.Equal(t, sha256Hex(body), f.SHA256, f.Path)
		assert.Equal(t, int64(len(body)), f.Size, f.Path)
		got := getObject(t, a, samplepkg.ObjectPrefix(kind, name)+f.Path)
		assert.Equal(t, sha256Hex(body), sha256Hex(got), "%s byte for byte", f.Path)
	}
	uploads, err := a.pendingUploads(context.Background(), samplepkg.ObjectPrefix(kind, name)+"R1.fastq.gz")
	require.NoError(t, err)
	assert.Empty(t, uploads, "no multipart upload left pending")
}

// TestUploadPackageResumesFromTheHeartbeatsUpload: an attempt fails after sending 2 of a
// file's 4 parts; its last heartbeat names the upload and the bytes sent. Meanwhile another
// (empty) upload of the same key was started, newer, so only the heartbeat leads to the
// first one: the retry, given those heartbeat details, sends the 2 missing parts only.
func TestUploadPackageResumesFromTheHeartbeatsUpload(t *testing.T) {
	a := newUpload(t)
	a.Concurrency = 1
	const size = 3*(5<<20) + 1234
	files := map[string][]byte{"R1.fastq.gz": randomBody(t, size), "R1.sample": []byte("{}")}
	writeExport(t, a, samplepkg.KindSample, "R1", files)
	pkg := ExportPackage{Kind: samplepkg.KindSample, Name: "R1"}

	ta := tapped(a, &partTap{failAfter: 2})
	env := uploadEnv(ta)
	var mu sync.Mutex
	var last uploadProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p uploadProgress
		if d.HasValues() && d.Get(&p) == nil {
			mu.Lock()
			if p.Sent >= last.Sent {
				last = p
			}
			mu.Unlock()
		}
	})
	_, err := runUpload(t, env, ta, pkg)
	require.Error(t, err, "the third part is refused")
	key := samplepkg.ObjectPrefix(samplepkg.KindSample, "R1") + "R1.fastq.gz"
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return last.Sent == 2*(5<<20) // two parts (R1.fastq.gz goes before R1.sample)
	}, 5*time.Second, 10*time.Millisecond, "heartbeats carry the bytes sent")
	assert.Equal(t, key, last.Key)
	require.NotEmpty(t, last.UploadID)

	time.Sleep(1100 * time.Millisecond) // a newer upload, at the server's one-second resolution
	decoy, err := a.S3.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	require.NoError(t, err)
	require.NotEqual(t, last.UploadID, aws.ToString(decoy.UploadId))

	tap := &partTap{}
	tb := tapped(a, tap)
	env2 := uploadEnv(tb)
	env2.SetHeartbeatDetails(last)
	res, err := runUpload(t, env2, tb, pkg)
	require.NoError(t, err)
	parts, sent := tap.counts()
	assert.Equal(t, 2, parts, "only the missing parts are sent")
	assert.Equal(t, int64(5<<20+1234), sent)
	assert.Equal(t, sent+2, res.Sent, "the missing parts and the .sample")
	checkUploaded(t, a, samplepkg.KindSample, "R1", files)
}

// TestUploadPackageDropsAnUploadWhosePartsAreNotTheFile: a pending upload of the key holds a
// part of other bytes (an earlier version of the file): its MD5 ETag does not match, so it is
// aborted and the file sent whole through a new upload.
func TestUploadPackageDropsAnUploadWhosePartsAreNotTheFile(t *testing.T) {
	a := newUpload(t)
	files := map[string][]byte{"R1.fastq.gz": randomBody(t, 2*(5<<20)+10), "R1.sample": []byte("{}")}
	writeExport(t, a, samplepkg.KindSample, "R1", files)
	key := samplepkg.ObjectPrefix(samplepkg.KindSample, "R1") + "R1.fastq.gz"
	stale, err := a.S3.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	require.NoError(t, err)
	other := randomBody(t, 5<<20)
	_, err = a.S3.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String(a.Bucket), Key: aws.String(key),
		UploadId: stale.UploadId, PartNumber: aws.Int32(1), Body: bytesReader(other), ContentLength: aws.Int64(int64(len(other)))})
	require.NoError(t, err)

	tap := &partTap{}
	tb := tapped(a, tap)
	_, err = runUpload(t, uploadEnv(tb), tb, ExportPackage{Kind: samplepkg.KindSample, Name: "R1"})
	require.NoError(t, err)
	parts, _ := tap.counts()
	assert.Equal(t, 3, parts, "every part sent again")
	checkUploaded(t, a, samplepkg.KindSample, "R1", files)
}

// The SIGKILL test's child: started by TestUploadKilledMidFileResumes as this test binary
// with killChildEnv set, it uploads the package slowly (a second per part) until killed.
const killChildEnv = "OPSFLOW_TEST_UPLOAD_KILL_CHILD"

// TestUploadKilledChild is the child process of TestUploadKilledMidFileResumes; run on its
// own (without killChildEnv) it has nothing to do.
func TestUploadKilledChild(t *testing.T) {
	if os.Getenv(killChildEnv) == "" {
		return
	}
	c, err := s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	h, err := ident.NewHasher([]byte("test-identifier-key"), true)
	require.NoError(t, err)
	a := &UploadActivities{S3: c, Bucket: os.Getenv(killChildEnv + "_BUCKET"), ExportDir: os.Getenv(killChildEnv + "_DIR"),
		Hasher: h, PartSize: 5 << 20, Concurrency: 1}
	ta := tapped(a, &partTap{delay: time.Second})
	_, err = runUpload(t, uploadEnv(ta), ta, ExportPackage{Kind: samplepkg.KindSample, Name: "K1"})
	t.Fatalf("the child should have been killed mid-file, but the upload ended: %v", err)
}

// TestUploadKilledMidFileResumes runs UploadPackage in a child process (this test binary),
// SIGKILLs it once a part of the large file is on the server, then uploads again in this
// process with no heartbeat details: the pending upload is found by its key, only the
// missing parts are sent, and the object is the local file byte for byte, manifest last.
func TestUploadKilledMidFileResumes(t *testing.T) {
	a := newUpload(t)
	a.Concurrency = 1
	const size = 3*(5<<20) + 4321
	files := map[string][]byte{"R1.fastq.gz": randomBody(t, size), "K1.sample": []byte(`{"name":"K1"}`)}
	writeExport(t, a, samplepkg.KindSample, "K1", files)
	key := samplepkg.ObjectPrefix(samplepkg.KindSample, "K1") + "R1.fastq.gz"

	cmd := exec.Command(os.Args[0], "-test.run=^TestUploadKilledChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"=1", killChildEnv+"_BUCKET="+a.Bucket, killChildEnv+"_DIR="+a.ExportDir)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	ctx := context.Background()
	partsDone := func() int {
		uploads, err := a.pendingUploads(ctx, key)
		if err != nil || len(uploads) != 1 {
			return 0
		}
		parts, err := a.listParts(ctx, key, aws.ToString(uploads[0].UploadId))
		if err != nil {
			return 0
		}
		return len(parts)
	}
	ok := assert.Eventually(t, func() bool { return partsDone() >= 1 }, 60*time.Second, 50*time.Millisecond,
		"the child uploads a part")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	werr := cmd.Wait()
	require.True(t, ok, "child output:\n%s", out.String())
	var exitErr *exec.ExitError
	require.True(t, errors.As(werr, &exitErr), "%v", werr)
	require.Equal(t, syscall.SIGKILL, exitErr.Sys().(syscall.WaitStatus).Signal(), "the child was killed, not finished:\n%s", out.String())
	before := partsDone()
	require.GreaterOrEqual(t, before, 1)
	require.Less(t, before, 4)
	assert.NotContains(t, bucketKeys(t, a), samplepkg.ManifestKey(samplepkg.KindSample, "K1"))

	tap := &partTap{}
	tb := tapped(a, tap)
	res, err := runUpload(t, uploadEnv(tb), tb, ExportPackage{Kind: samplepkg.KindSample, Name: "K1"})
	require.NoError(t, err)
	parts, sent := tap.counts()
	assert.Equal(t, 4-before, parts, "only the parts the killed child did not send")
	assert.Equal(t, int64(size-before*(5<<20)), sent)
	assert.Equal(t, sent, res.Sent, "the .sample, uploaded by the child, is not sent again")
	checkUploaded(t, a, samplepkg.KindSample, "K1", files)
}

// TestUploadPackageReplacesAnUploadCreatedForAnotherVersion: a pending upload of the key
// holds a part that matches the file, but was created for an earlier version of it (its
// x-amz-meta-sha256 names another content). Once complete, the object's metadata does not
// match, so the file is sent again through a new upload and ends with the right SHA-256.
func TestUploadPackageReplacesAnUploadCreatedForAnotherVersion(t *testing.T) {
	a := newUpload(t)
	body := randomBody(t, 2*(5<<20)+10)
	files := map[string][]byte{"R1.fastq.gz": body, "R1.sample": []byte("{}")}
	writeExport(t, a, samplepkg.KindSample, "R1", files)
	key := samplepkg.ObjectPrefix(samplepkg.KindSample, "R1") + "R1.fastq.gz"
	old, err := a.S3.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(a.Bucket), Key: aws.String(key),
		Metadata: map[string]string{sha256Meta: sha256Hex([]byte("an earlier version"))}})
	require.NoError(t, err)
	_, err = a.S3.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String(a.Bucket), Key: aws.String(key),
		UploadId: old.UploadId, PartNumber: aws.Int32(1), Body: bytesReader(body[:5<<20]), ContentLength: aws.Int64(5 << 20)})
	require.NoError(t, err)

	tap := &partTap{}
	tb := tapped(a, tap)
	res, err := runUpload(t, uploadEnv(tb), tb, ExportPackage{Kind: samplepkg.KindSample, Name: "R1"})
	require.NoError(t, err)
	parts, _ := tap.counts()
	assert.Equal(t, 2+3, parts, "the 2 missing parts of the old upload, then all 3 through a new one")
	info, _, err := s3store.Head(context.Background(), a.S3, a.Bucket, key)
	require.NoError(t, err)
	assert.Equal(t, sha256Hex(body), info.Metadata[sha256Meta])
	assert.Equal(t, int64(len(body)+2+(5<<20+10)), res.Sent)
	checkUploaded(t, a, samplepkg.KindSample, "R1", files)
}
