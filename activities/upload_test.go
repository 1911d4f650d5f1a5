package activities

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// requireErrType asserts err is a non-retryable application error of errType.
func requireErrType(t *testing.T, err error, errType string) {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr, "%v", err)
	assert.Equal(t, errType, appErr.Type(), "%v", err)
	assert.True(t, appErr.NonRetryable(), "%v", err)
}

// TestUploadPackageSendsEveryFileThenTheManifest uploads a sample package with a multipart
// read, a small one in a subdirectory and the .sample: each object is the file byte for byte
// with its SHA-256 as metadata, the manifest lists every file with size and SHA-256, and it
// is the last object written (the order of the requests that reached the server).
func TestUploadPackageSendsEveryFileThenTheManifest(t *testing.T) {
	a := newUpload(t)
	files := map[string][]byte{
		"S1.sample":         []byte(`{"name":"S1","reads":[]}`),
		"R1.fastq.gz":       randomBody(t, 12<<20+123),
		"qc/summary.txt":    []byte("ok\n"),
		"lanes/L1/R2.fq.gz": randomBody(t, 5<<20),
	}
	writeExport(t, a, samplepkg.KindSample, "S1", files)
	tap := &partTap{}
	ta := tapped(a, tap)
	manifestKey := samplepkg.ManifestKey(samplepkg.KindSample, "S1")
	res, err := runUpload(t, uploadEnv(ta), ta, ExportPackage{Kind: samplepkg.KindSample, Name: "S1"})
	require.NoError(t, err)
	var total int64
	for _, b := range files {
		total += int64(len(b))
	}
	assert.Equal(t, UploadResult{PackageID: samplepkg.KindID(a.Hasher, samplepkg.KindSample, "S1"), Files: 4, Bytes: total,
		ManifestKey: manifestKey, Sent: total}, res)
	writes := tap.written()
	require.NotEmpty(t, writes)
	assert.Equal(t, "PUT /"+a.Bucket+"/"+manifestKey, writes[len(writes)-1], "the manifest is written last: %v", writes)
	parts, partBytes := tap.counts()
	assert.Equal(t, 3, parts, "R1 in 3 parts of 5 MiB; R2, 5 MiB, not above the threshold, in one PutObject")
	assert.Equal(t, int64(12<<20+123), partBytes)

	m, err := samplepkg.ParseManifest(manifestKey, getObject(t, a, manifestKey))
	require.NoError(t, err)
	require.Len(t, m.Files, 4)
	for _, f := range m.Files {
		body := files[f.Path]
		assert.Equal(t, int64(len(body)), f.Size, f.Path)
		assert.Equal(t, sha256Hex(body), f.SHA256, f.Path)
		key := samplepkg.ObjectPrefix(samplepkg.KindSample, "S1") + f.Path
		assert.Equal(t, sha256Hex(body), sha256Hex(getObject(t, a, key)), "%s byte for byte", key)
		info, _, err := s3store.Head(context.Background(), a.S3, a.Bucket, key)
		require.NoError(t, err)
		assert.Equal(t, sha256Hex(body), info.Metadata[sha256Meta], key)
	}
	uploads, err := a.pendingUploads(context.Background(), samplepkg.ObjectPrefix(samplepkg.KindSample, "S1"))
	require.NoError(t, err)
	assert.Empty(t, uploads, "no multipart upload left pending")

	// Run again: the manifest is there, nothing is sent.
	again, err := runUpload(t, uploadEnv(a), a, ExportPackage{Kind: samplepkg.KindSample, Name: "S1"})
	require.NoError(t, err)
	assert.True(t, again.AlreadyUploaded)
	assert.Equal(t, int64(0), again.Sent)
	assert.Equal(t, total, again.Bytes)

	// Without the manifest (a retry after the files went up), files already uploaded whole
	// are recognised by size and SHA-256 and not sent again; the manifest is rewritten.
	_, err = a.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(manifestKey)})
	require.NoError(t, err)
	tap2 := &partTap{}
	ta2 := tapped(a, tap2)
	retry, err := runUpload(t, uploadEnv(ta2), ta2, ExportPackage{Kind: samplepkg.KindSample, Name: "S1"})
	require.NoError(t, err)
	assert.Equal(t, int64(0), retry.Sent)
	assert.Equal(t, []string{"PUT /" + a.Bucket + "/" + manifestKey}, tap2.written(), "only the manifest is written again")
	assert.Equal(t, getObject(t, a, manifestKey), mustEncode(t, m))
}

func mustEncode(t *testing.T, m samplepkg.Manifest) []byte {
	b, err := m.Encode()
	require.NoError(t, err)
	return b
}

// TestUploadPackageRefusesUnsafePackagesBeforeSendingAnything: a name that is not a plain
// directory name, an unknown kind, a link inside the package, a file name that is no S3 key
// and a sample without its .sample are refused, and the bucket stays empty.
func TestUploadPackageRefusesUnsafePackagesBeforeSendingAnything(t *testing.T) {
	a := newUpload(t)
	env := uploadEnv(a)
	for _, name := range []string{"../S1", ".hidden", "a/b", ""} {
		_, err := runUpload(t, env, a, ExportPackage{Kind: samplepkg.KindSample, Name: name})
		requireErrType(t, err, ErrInvalidPackage)
	}
	_, err := runUpload(t, env, a, ExportPackage{Kind: "secrets", Name: "S1"})
	requireErrType(t, err, ErrInvalidPackage)

	dir := writeExport(t, a, samplepkg.KindBackup, "B1", map[string][]byte{"a.txt": []byte("a")})
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "z-link")))
	_, err = runUpload(t, env, a, ExportPackage{Kind: samplepkg.KindBackup, Name: "B1"})
	requireErrType(t, err, ErrInvalidPackage)

	writeExport(t, a, samplepkg.KindBackup, "B2", map[string][]byte{"a.txt": []byte("a"), "z-\xff.txt": []byte("b")})
	_, err = runUpload(t, env, a, ExportPackage{Kind: samplepkg.KindBackup, Name: "B2"})
	requireErrType(t, err, ErrUnsafeObjectKey)

	writeExport(t, a, samplepkg.KindSample, "S2", map[string][]byte{"R1.fastq.gz": []byte("reads")})
	_, err = runUpload(t, env, a, ExportPackage{Kind: samplepkg.KindSample, Name: "S2"})
	requireErrType(t, err, ErrMalformedPackage)

	_, err = runUpload(t, env, a, ExportPackage{Kind: samplepkg.KindAnalysis, Name: "missing"})
	requireErrType(t, err, ErrInvalidPackage)
	assert.Empty(t, bucketKeys(t, a), "nothing uploaded")
}

// TestUploadPackageRefusesASourceChangingDuringTheUpload: a file rewritten while the package
// is being uploaded fails the attempt with SourceChanged and no manifest; once it is stable,
// the next upload succeeds with the new content.
func TestUploadPackageRefusesASourceChangingDuringTheUpload(t *testing.T) {
	a := newUpload(t)
	dir := writeExport(t, a, samplepkg.KindAnalysis, "A1", map[string][]byte{
		"A1.analysis": []byte(`{}`), "big.vcf": randomBody(t, 11<<20),
	})
	var once sync.Once
	changed := false
	tap := &partTap{onPart: func() {
		once.Do(func() { // a pipeline rewrites the file while its parts go up
			changed = true
			future := time.Now().Add(time.Minute)
			assert.NoError(t, os.Chtimes(filepath.Join(dir, "big.vcf"), future, future))
		})
	}}
	ta := tapped(a, tap)
	_, err := runUpload(t, uploadEnv(ta), ta, ExportPackage{Kind: samplepkg.KindAnalysis, Name: "A1"})
	require.True(t, changed)
	requireErrType(t, err, ErrSourceChanged)
	assert.NotContains(t, bucketKeys(t, a), samplepkg.ManifestKey(samplepkg.KindAnalysis, "A1"))

	res, err := runUpload(t, uploadEnv(a), a, ExportPackage{Kind: samplepkg.KindAnalysis, Name: "A1"})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Files)
}
