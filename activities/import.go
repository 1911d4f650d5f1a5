package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// ImportActivities move a package from the TSD S3 endpoint into the durable area, the
// filelock-exporter step: list the packages whose manifest is uploaded, copy one, check every
// file against its manifest (and a sample's reads against its .sample file), then publish it
// with a READY marker written last, so the automation never picks up unverified data; a
// package that fails the checks is quarantined with a report.
type ImportActivities struct {
	S3         *s3.Client
	Bucket     string
	DurableDir string
	Hasher     *ident.Hasher
	// Environment names the deployment, recorded on every run.
	Environment string
	// CopyConcurrency is how many objects of a package FetchPackage copies at once (0:
	// DefaultCopyConcurrency): with MD5 slower than the disk, objects copied side by side
	// are what lets the hashes use every core.
	CopyConcurrency int
}

func (a *ImportActivities) copyConcurrency() int {
	if a.CopyConcurrency > 0 {
		return a.CopyConcurrency
	}
	return DefaultCopyConcurrency
}

func validPackageName(name string) error {
	if err := samplepkg.CheckName(name); err != nil {
		return permanent(ErrInvalidPackage, nil, "%v", err)
	}
	return nil
}

// target checks in's kind and name and returns the kind ("" becomes samples) and the keyed id.
func (a *ImportActivities) target(in ImportInput) (samplepkg.Kind, string, error) {
	kind, err := samplepkg.ParseKind(string(in.Kind))
	if err != nil {
		return "", "", permanent(ErrInvalidPackage, nil, "%v", err)
	}
	if err := validPackageName(in.Package); err != nil {
		return "", "", err
	}
	return kind, samplepkg.KindID(a.Hasher, kind, in.Package), nil
}

func (a *ImportActivities) layout() samplepkg.Layout { return samplepkg.Layout{Durable: a.DurableDir} }

// FetchPackage copies every object under <kind>/<package>/ into a staging directory named by
// the package's hash, once the package's manifest is found and the objects are exactly the
// files it lists (ErrManifestMissing, ErrManifestMismatch otherwise; nothing is copied). A dry
// run only lists. Repeating it resumes: files already staged with the object's size are kept,
// and the object being copied when an attempt stopped continues from the offset its heartbeat
// recorded (stageObject).
func (a *ImportActivities) FetchPackage(ctx context.Context, in ImportInput) (FetchResult, error) {
	kind, id, err := a.target(in)
	if err != nil {
		return FetchResult{}, err
	}
	res := FetchResult{PackageID: id, Environment: a.Environment, StagingDir: a.layout().StagingDir(id),
		PublishedDir: a.layout().PublishedDirOf(kind, in.Package)}
	m, err := a.readManifest(ctx, kind, in.Package)
	if err != nil {
		return FetchResult{}, err
	}
	objects, err := a.listPackage(ctx, kind, in.Package, res.StagingDir)
	if err != nil {
		return FetchResult{}, err
	}
	if checks := matchListing(m, objects, samplepkg.ObjectPrefix(kind, in.Package)); len(checks) > 0 {
		if !in.DryRun {
			if err := a.saveChecks(id, checks); err != nil {
				return FetchResult{}, err
			}
		}
		return FetchResult{}, permanent(ErrManifestMismatch, nil, "s3://%s/%s differs from its manifest %s: %s",
			a.Bucket, samplepkg.ObjectPrefix(kind, in.Package), samplepkg.ManifestKey(kind, in.Package), describeChecks(checks))
	}
	res.Manifest = &m
	for _, o := range objects {
		res.Files = append(res.Files, o.rel)
		res.Bytes += o.size
	}
	if in.DryRun {
		return res, nil
	}
	var resume fetchProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil {
			resume = fetchProgress{} // unreadable: the objects start again
		}
	}
	digests := a.digestsFile(id)
	if _, err := os.Stat(res.StagingDir); errors.Is(err, os.ErrNotExist) {
		if err := removeDigests(digests); err != nil { // an earlier staging's, quarantined since
			return FetchResult{}, err
		}
	}
	algs := []string{checksum.SHA256}
	if kind == samplepkg.KindSample {
		algs = append(algs, checksum.MD5) // the .sample lists its reads' MD5s
	}
	stage := make([]StageObject, len(objects))
	for i, o := range objects {
		stage[i] = StageObject{Key: o.key, Name: fmt.Sprintf("s3://%s/%s", a.Bucket, o.key), Path: o.rel, Dest: o.dest, Size: o.size}
	}
	open := func(ctx context.Context, o StageObject, offset int64) (io.ReadCloser, error) {
		return s3store.GetRange(ctx, a.S3, a.Bucket, o.Key, offset)
	}
	if _, err := StageObjects(ctx, stage, open, StageOptions{Algorithms: algs, Concurrency: a.copyConcurrency(),
		DigestsFile: digests, Heartbeat: func(d any) { activity.RecordHeartbeat(ctx, d) }, resume: resume}); err != nil {
		return FetchResult{}, err
	}
	return res, nil
}

// readManifest gets and parses the package's manifest: absent is ErrManifestMissing (the
// upload is not complete, or the package does not exist), unparsable ErrManifestMismatch.
func (a *ImportActivities) readManifest(ctx context.Context, kind samplepkg.Kind, name string) (samplepkg.Manifest, error) {
	key := samplepkg.ManifestKey(kind, name)
	body, err := s3store.GetRange(ctx, a.S3, a.Bucket, key, 0)
	if s3store.IsNotFound(err) {
		return samplepkg.Manifest{}, permanent(ErrManifestMissing, nil,
			"no manifest s3://%s/%s: the package is not (completely) uploaded", a.Bucket, key)
	} else if err != nil {
		return samplepkg.Manifest{}, fmt.Errorf("get s3://%s/%s: %w", a.Bucket, key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		return samplepkg.Manifest{}, fmt.Errorf("read s3://%s/%s: %w", a.Bucket, key, err)
	}
	m, err := samplepkg.ParseManifest(key, data)
	if err != nil {
		return samplepkg.Manifest{}, permanent(ErrManifestMismatch, err, "%v", err)
	}
	return m, nil
}

// listPackage lists the package's objects with the file each is staged into, refusing the
// whole package when any key does not name a file inside it (samplepkg.CheckPath).
func (a *ImportActivities) listPackage(ctx context.Context, kind samplepkg.Kind, name, stagingDir string) ([]stagedObject, error) {
	prefix := samplepkg.ObjectPrefix(kind, name)
	p := s3.NewListObjectsV2Paginator(a.S3, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix)})
	var objects []stagedObject
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", a.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || (strings.HasSuffix(rel, "/") && aws.ToInt64(o.Size) == 0 && samplepkg.CheckPath(strings.TrimSuffix(rel, "/")) == nil) {
				continue // a folder marker
			}
			if err := samplepkg.CheckPath(rel); err != nil {
				return nil, permanent(ErrUnsafeObjectKey, nil, "object key %q does not name a file inside the package: %v", key, err)
			}
			objects = append(objects, stagedObject{key: key, rel: rel, size: aws.ToInt64(o.Size), dest: filepath.Join(stagingDir, filepath.FromSlash(rel))})
		}
	}
	return objects, nil
}

// matchListing compares the objects listed with the manifest's files: every file listed is an
// object of its size, and no object is unlisted.
func matchListing(m samplepkg.Manifest, objects []stagedObject, prefix string) []FileCheck {
	listed := map[string]int64{}
	for _, o := range objects {
		listed[o.rel] = o.size
	}
	var checks []FileCheck
	for _, f := range m.Files {
		size, ok := listed[f.Path]
		switch {
		case !ok:
			checks = append(checks, FileCheck{Path: f.Path, Problem: "missing", WantSize: f.Size, WantSHA256: f.SHA256})
		case size != f.Size:
			checks = append(checks, FileCheck{Path: f.Path, Problem: "size", WantSize: f.Size, GotSize: size, WantSHA256: f.SHA256})
		}
		delete(listed, f.Path)
	}
	for _, o := range objects {
		if size, ok := listed[o.rel]; ok {
			checks = append(checks, FileCheck{Path: o.rel, Problem: "extra", GotSize: size})
		}
	}
	return checks
}

// describeChecks names the files at fault, for an error message (stored encrypted).
func describeChecks(checks []FileCheck) string {
	const most = 10
	parts := make([]string, 0, most+1)
	for i, c := range checks {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(checks)-most))
			break
		}
		switch c.Problem {
		case "size":
			parts = append(parts, fmt.Sprintf("%s: size %d, want %d", c.Path, c.GotSize, c.WantSize))
		case "sha256":
			parts = append(parts, fmt.Sprintf("%s: sha256 %s, want %s", c.Path, c.GotSHA256, c.WantSHA256))
		case "md5":
			parts = append(parts, fmt.Sprintf("%s: md5 %s, want %s", c.Path, c.GotMD5, c.WantMD5))
		default:
			parts = append(parts, c.Path+": "+c.Problem)
		}
	}
	return strings.Join(parts, "; ")
}

// checksFile is where the last failed check of the package with id left its findings for
// QuarantinePackage's report: beside the staging directory, never inside the package.
func (a *ImportActivities) checksFile(id string) string {
	return a.layout().StagingDir(id) + ".checks.json"
}

func (a *ImportActivities) saveChecks(id string, checks []FileCheck) error {
	data, err := json.Marshal(checks)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.layout().StagingRoot(), 0o755); err != nil {
		return err
	}
	return os.WriteFile(a.checksFile(id), data, 0o644)
}

// loadChecks reads what saveChecks left; nil when nothing (or nothing readable) is there.
func (a *ImportActivities) loadChecks(id string) []FileCheck {
	data, err := os.ReadFile(a.checksFile(id))
	if err != nil {
		return nil
	}
	var checks []FileCheck
	if json.Unmarshal(data, &checks) != nil {
		return nil
	}
	return checks
}

// DiscardStaging removes a package's staging directory after a refused import.
func (a *ImportActivities) DiscardStaging(ctx context.Context, staged FetchResult) error {
	if !a.layout().IsStagingDir(staged.StagingDir) {
		return permanent(ErrInvalidPackage, nil, "refusing to remove %q: not a staging directory", staged.StagingDir)
	}
	if err := os.RemoveAll(staged.StagingDir); err != nil {
		return err
	}
	if err := os.Remove(staged.StagingDir + ".checks.json"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return removeDigests(StagingDigestsFile(staged.StagingDir))
}
