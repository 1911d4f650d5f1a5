package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// newUpload gives UploadActivities on a fresh bucket of the stack's S3 server, an empty
// export area, 5 MiB parts and a short settle time.
func newUpload(t *testing.T) *UploadActivities {
	c, bucket := s3test.NewBucket(t)
	h, err := ident.NewHasher([]byte("test-identifier-key"), true)
	require.NoError(t, err)
	return &UploadActivities{S3: c, Bucket: bucket, ExportDir: t.TempDir(), Hasher: h,
		Settle: 300 * time.Millisecond, PartSize: 5 << 20, Concurrency: 2}
}

// uploadEnv runs a's activities; every heartbeat reaches the test's listener (no throttle).
func uploadEnv(a *UploadActivities) *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{MaxHeartbeatThrottleInterval: time.Nanosecond})
	env.RegisterActivity(a)
	return env
}

// writeExport writes a package into the export area: files by path relative to the package.
func writeExport(t *testing.T, a *UploadActivities, kind samplepkg.Kind, name string, files map[string][]byte) string {
	dir := filepath.Join(a.ExportDir, string(kind), name)
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, body, 0o644))
	}
	return dir
}

func runUpload(t *testing.T, env *testsuite.TestActivityEnvironment, a *UploadActivities, pkg ExportPackage) (UploadResult, error) {
	v, err := env.ExecuteActivity(a.UploadPackage, pkg)
	if err != nil {
		return UploadResult{}, err
	}
	var res UploadResult
	require.NoError(t, v.Get(&res))
	return res, nil
}

func runScan(t *testing.T, a *UploadActivities, page ScanPage) ExportScanPage {
	v, err := uploadEnv(a).ExecuteActivity(a.FindExportPackages, page)
	require.NoError(t, err)
	var res ExportScanPage
	require.NoError(t, v.Get(&res))
	return res
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// getObject downloads an object whole.
func getObject(t *testing.T, a *UploadActivities, key string) []byte {
	out, err := a.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	require.NoError(t, err, "get %s", key)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return b
}

// bucketKeys lists every object key of the bucket.
func bucketKeys(t *testing.T, a *UploadActivities) []string {
	out, err := a.S3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket)})
	require.NoError(t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// partTap sits between an S3 client and the server and counts the UploadPart requests
// (and their bytes) that reach the server; it can delay each, or refuse them after a number.
type partTap struct {
	next  s3.HTTPClient
	delay time.Duration
	// failAfter > 0: the part requests after the first failAfter fail without reaching the server.
	failAfter int
	// onPart runs before each part request is sent.
	onPart func()

	mu     sync.Mutex
	parts  int
	bytes  int64
	writes []string // "<method> <path>" of every request that writes, in order
}

func (p *partTap) Do(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		p.mu.Lock()
		p.writes = append(p.writes, req.Method+" "+req.URL.Path)
		p.mu.Unlock()
	}
	if req.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId") {
		p.mu.Lock()
		refuse := p.failAfter > 0 && p.parts >= p.failAfter
		if !refuse {
			p.parts++
			p.bytes += req.ContentLength
		}
		p.mu.Unlock()
		if refuse {
			return nil, io.ErrUnexpectedEOF
		}
		if p.onPart != nil {
			p.onPart()
		}
		time.Sleep(p.delay)
	}
	return p.next.Do(req)
}

// written returns the paths written, in order.
func (p *partTap) written() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.writes...)
}

func (p *partTap) counts() (int, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts, p.bytes
}

// tapped returns a copy of a whose S3 client goes through a new partTap (no SDK retries,
// so a refused part fails the attempt).
func tapped(a *UploadActivities, tap *partTap) *UploadActivities {
	b := *a
	b.S3 = s3.New(a.S3.Options(), func(o *s3.Options) {
		tap.next = o.HTTPClient
		o.HTTPClient = tap
		o.RetryMaxAttempts = 1
	})
	return &b
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// lockedBuffer collects a child process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
