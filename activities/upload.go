package activities

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// UploadActivities are the nsc-exporter: they find complete packages in the NSC export area
// (<ExportDir>/<kind>/<name>/) and upload each to the TSD S3 endpoint, file <rel> under
// samplepkg.ObjectPrefix(kind, name)+rel, and then the package's manifest, last: its presence
// is what tells the filelock-exporter the package is whole.
type UploadActivities struct {
	S3     *s3.Client
	Bucket string
	// ExportDir is the export area the lims-exporter and the pipelines write into.
	ExportDir string
	Hasher    *ident.Hasher
	// Settle is the pause between the scan's two looks at a package; a package whose files
	// changed meanwhile is still being written. 0 means defaultSettle.
	Settle time.Duration
	// PartSize is the size of a multipart upload's parts (0 means 16 MiB; at least 5 MiB,
	// S3's minimum). A file is cut into at most 10 000 parts: larger files get larger parts.
	PartSize int64
	// MultipartThreshold: files larger than this go multipart (0 means PartSize).
	MultipartThreshold int64
	// Concurrency is how many parts of a file are sent at once (0 means defaultConcurrency).
	Concurrency int
}

const (
	defaultSettle      = 10 * time.Second
	defaultPartSize    = 16 << 20
	minPartSize        = 5 << 20
	maxParts           = 10000
	defaultConcurrency = 4
	// maxKeyBytes is S3's limit on an object key.
	maxKeyBytes = 1024
	// sha256Meta is the metadata (x-amz-meta-sha256) every uploaded file carries, so a retry
	// recognises a file already uploaded whole without downloading it.
	sha256Meta = "sha256"
)

// uploadProgress is UploadPackage's heartbeat: Sent bytes of the package are on the S3
// endpoint (files and parts found there included), and Key is the file being sent, through
// the multipart upload UploadID when it is large, so a retry resumes that upload.
type uploadProgress struct {
	Sent     int64  `json:"sent"`
	Key      string `json:"key,omitempty"`
	UploadID string `json:"uploadId,omitempty"`
}

// localFile is one file of a package in the export area and the key it is uploaded to.
type localFile struct {
	rel   string
	path  string
	key   string
	size  int64
	mtime time.Time
}

// UploadPackage uploads one package's files (sorted by path) and then its manifest. A package
// whose manifest is on the S3 endpoint is not sent again (AlreadyUploaded). Files already
// uploaded whole (same size and x-amz-meta-sha256 as the local file) are skipped; a large file
// resumes its multipart upload (from the heartbeat's upload id, or the key's pending upload)
// and sends only the parts missing. A file that changes while it is read fails the upload with
// ErrSourceChanged: the next scan hands the package over again once it has settled.
func (a *UploadActivities) UploadPackage(ctx context.Context, pkg ExportPackage) (UploadResult, error) {
	kind, err := checkExportPackage(pkg)
	if err != nil {
		return UploadResult{}, err
	}
	if err := a.checkConfig(); err != nil {
		return UploadResult{}, err
	}
	id := samplepkg.KindID(a.Hasher, kind, pkg.Name)
	res := UploadResult{PackageID: id, ManifestKey: samplepkg.ManifestKey(kind, pkg.Name)}
	if done, err := a.existingManifest(ctx, res.ManifestKey); err != nil {
		return UploadResult{}, err
	} else if done != nil {
		res.Files, res.Bytes, res.AlreadyUploaded = len(done.Files), done.Bytes(), true
		return res, nil
	}
	files, err := a.packageFiles(kind, pkg.Name)
	if err != nil {
		return UploadResult{}, err
	}
	var resume uploadProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil {
			resume = uploadProgress{} // an older attempt's heartbeat: find the pending upload by its key
		}
	}
	p := &progress{ctx: ctx}
	m := samplepkg.Manifest{Kind: kind, Package: pkg.Name}
	for _, f := range files {
		sum, err := a.uploadFile(ctx, f, resume, p)
		if err != nil {
			return UploadResult{}, err
		}
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: f.rel, Size: f.size, SHA256: sum})
	}
	// The manifest vouches for every file: nothing may have changed, appeared or gone since
	// the listing.
	again, err := a.packageFiles(kind, pkg.Name)
	if err != nil {
		return UploadResult{}, err
	}
	if !sameFiles(files, again) {
		return UploadResult{}, permanent(ErrSourceChanged, nil, "package %s/%s changed while it was uploaded: left for the next scan", kind, pkg.Name)
	}
	if err := a.putManifest(ctx, res.ManifestKey, m); err != nil {
		return UploadResult{}, err
	}
	res.Files, res.Bytes, res.Sent = len(m.Files), m.Bytes(), p.transferred()
	activity.GetLogger(ctx).Info("package uploaded", "package", id, "files", res.Files, "bytes", res.Bytes, "sent", res.Sent)
	return res, nil
}

// checkExportPackage refuses an unknown kind or a name that is not a plain directory name.
func checkExportPackage(pkg ExportPackage) (samplepkg.Kind, error) {
	kind, err := samplepkg.ParseKind(string(pkg.Kind))
	if err != nil {
		return "", permanent(ErrInvalidPackage, err, "%v", err)
	}
	if err := validPackageName(pkg.Name); err != nil {
		return "", err
	}
	return kind, nil
}

// checkConfig refuses a part size S3 would refuse.
func (a *UploadActivities) checkConfig() error {
	if a.PartSize != 0 && a.PartSize < minPartSize {
		return permanent(ErrInvalidInput, nil, "UploadActivities.PartSize %d is below S3's minimum part size of 5 MiB", a.PartSize)
	}
	return nil
}

func (a *UploadActivities) partSize() int64 {
	if a.PartSize == 0 {
		return defaultPartSize
	}
	return a.PartSize
}

func (a *UploadActivities) threshold() int64 {
	if a.MultipartThreshold == 0 {
		return a.partSize()
	}
	return a.MultipartThreshold
}

func (a *UploadActivities) concurrency() int {
	if a.Concurrency <= 0 {
		return defaultConcurrency
	}
	return a.Concurrency
}

// packageDir is the package's directory in the export area.
func (a *UploadActivities) packageDir(kind samplepkg.Kind, name string) string {
	return filepath.Join(a.ExportDir, string(kind), name)
}

// existingManifest returns the package's manifest when it is on the S3 endpoint, nil when not.
func (a *UploadActivities) existingManifest(ctx context.Context, key string) (*samplepkg.Manifest, error) {
	body, err := s3store.GetRange(ctx, a.S3, a.Bucket, key, 0)
	if s3store.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", a.Bucket, key, err)
	}
	m, err := samplepkg.ParseManifest(key, data)
	if err != nil {
		return nil, permanent(ErrManifestMismatch, err, "s3://%s/%s is there but not a manifest: %v", a.Bucket, key, err)
	}
	return &m, nil
}

// putManifest writes the manifest, the package's last object.
func (a *UploadActivities) putManifest(ctx context.Context, key string, m samplepkg.Manifest) error {
	data, err := m.Encode()
	if err != nil {
		return err
	}
	_, err = a.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(a.Bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("put manifest s3://%s/%s: %w", a.Bucket, key, err)
	}
	return nil
}

// progress counts an UploadPackage attempt's bytes and heartbeats them; parts sent
// concurrently report through it.
type progress struct {
	ctx  context.Context
	mu   sync.Mutex
	done int64 // bytes of the package on the S3 endpoint
	sent int64 // bytes this attempt transferred
	key  string
	id   string
}

// at names the file (and multipart upload) being sent and heartbeats.
func (p *progress) at(key, uploadID string) {
	p.mu.Lock()
	p.key, p.id = key, uploadID
	p.mu.Unlock()
	p.beat()
}

// add counts n bytes now on the S3 endpoint, transferred by this attempt or found there.
func (p *progress) add(n int64, transferred bool) {
	p.mu.Lock()
	p.done += n
	if transferred {
		p.sent += n
	}
	p.mu.Unlock()
	p.beat()
}

// beat records a heartbeat (the SDK throttles them) with the progress so far.
func (p *progress) beat() {
	p.mu.Lock()
	d := uploadProgress{Sent: p.done, Key: p.key, UploadID: p.id}
	p.mu.Unlock()
	activity.RecordHeartbeat(p.ctx, d)
}

// undo uncounts n bytes counted on the S3 endpoint that have to be sent again.
func (p *progress) undo(n int64) {
	p.mu.Lock()
	p.done -= n
	p.mu.Unlock()
}

func (p *progress) transferred() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// beatingReader is a part's (or small file's) body that heartbeats as the SDK reads it, so a
// part going up slowly keeps the attempt alive while bytes flow (and only then: a hung
// connection stops the heartbeats and the server times the attempt out).
type beatingReader struct {
	r    io.ReadSeeker
	p    *progress
	read int64
}

func (b *beatingReader) Read(buf []byte) (int, error) {
	n, err := b.r.Read(buf)
	if b.read/(1<<20) != (b.read+int64(n))/(1<<20) {
		b.p.beat()
	}
	b.read += int64(n)
	return n, err
}

func (b *beatingReader) Seek(offset int64, whence int) (int64, error) {
	return b.r.Seek(offset, whence)
}

// sortFiles orders a package's files by path, the manifest's and the upload's order.
func sortFiles(files []localFile) {
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
}

// sameFiles tells whether two listings of a package name the same files, sizes and mtimes.
func sameFiles(x, y []localFile) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].rel != y[i].rel || x[i].size != y[i].size || !x[i].mtime.Equal(y[i].mtime) {
			return false
		}
	}
	return true
}

// unchanged tells whether f still has the size and mtime it was listed with.
func unchanged(f localFile) bool {
	st, err := os.Stat(f.path)
	return err == nil && st.Size() == f.size && st.ModTime().Equal(f.mtime)
}
