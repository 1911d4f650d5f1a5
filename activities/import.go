package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// ImportActivities move a sample package from the S3 import bucket into the durable area,
// the filelock-exporter step: copy, check every FASTQ against the package's .sample file,
// then publish with a READY marker written last, so the automation never picks up
// unverified data.
type ImportActivities struct {
	S3         *s3.Client
	Bucket     string
	DurableDir string
	Hasher     *ident.Hasher
	// Environment names the deployment, recorded on every run.
	Environment string
}

func validPackageName(name string) error {
	if err := samplepkg.CheckName(name); err != nil {
		return permanent(ErrInvalidPackage, nil, "%v", err)
	}
	return nil
}

func (a *ImportActivities) layout() samplepkg.Layout { return samplepkg.Layout{Durable: a.DurableDir} }

// FetchPackage copies every object under <package>/ into a staging directory named by the
// package's hash. A dry run only lists. Repeating it resumes: files already staged with the
// object's size are kept, and the object being copied when an attempt stopped continues
// from the offset its heartbeat recorded (stageObject).
func (a *ImportActivities) FetchPackage(ctx context.Context, in ImportInput) (FetchResult, error) {
	if err := validPackageName(in.Package); err != nil {
		return FetchResult{}, err
	}
	res := FetchResult{PackageID: samplepkg.ID(a.Hasher, in.Package), Environment: a.Environment}
	res.StagingDir = a.layout().StagingDir(res.PackageID)
	objects, err := a.listPackage(ctx, in.Package, res.StagingDir)
	if err != nil {
		return FetchResult{}, err
	}
	var resume fetchProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil {
			resume = fetchProgress{} // an older attempt's heartbeat: start the object again
		}
	}
	for _, o := range objects {
		res.Files = append(res.Files, strings.TrimPrefix(o.key, samplepkg.Prefix(in.Package)))
		res.Bytes += o.size
		if in.DryRun || o.complete() {
			continue
		}
		if err := a.stageObject(ctx, o, resume); err != nil {
			return FetchResult{}, err
		}
	}
	return res, nil
}

// listPackage lists the package's objects with the file each is staged into, refusing the
// whole package when any key does not name a file inside it (samplepkg.CheckPath).
func (a *ImportActivities) listPackage(ctx context.Context, name, stagingDir string) ([]stagedObject, error) {
	prefix := samplepkg.Prefix(name)
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
			objects = append(objects, stagedObject{key: key, size: aws.ToInt64(o.Size), dest: filepath.Join(stagingDir, filepath.FromSlash(rel))})
		}
	}
	if len(objects) == 0 {
		return nil, permanent(ErrPackageNotFound, nil, "no objects under s3://%s/%s", a.Bucket, prefix)
	}
	return objects, nil
}

// verifyProgress is VerifyPackage's heartbeat: reads before Read are verified, and Read's
// MD5 got as far as Hash.
type verifyProgress struct {
	Read int               `json:"read"`
	Hash checksum.Progress `json:"hash"`
}

// VerifyPackage checks every read listed in <package>.sample: present, size and MD5. It
// heartbeats while it hashes and a retry resumes from the read and offset last reported.
func (a *ImportActivities) VerifyPackage(ctx context.Context, in ImportInput, staged FetchResult) (VerifyResult, error) {
	if err := validPackageName(in.Package); err != nil {
		return VerifyResult{}, err
	}
	name := samplepkg.SampleFileName(in.Package)
	data, err := os.ReadFile(filepath.Join(staged.StagingDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return VerifyResult{}, permanent(ErrMalformedPackage, nil, "package %s has no %s", in.Package, name)
	} else if err != nil {
		return VerifyResult{}, err
	}
	sf, err := samplepkg.ParseSampleFile(name, data)
	if err != nil {
		return VerifyResult{}, permanent(ErrMalformedPackage, err, "%v", err)
	}
	var resume verifyProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil || resume.Read > len(sf.Reads) {
			resume = verifyProgress{}
		}
	}
	for i := resume.Read; i < len(sf.Reads); i++ {
		r := sf.Reads[i]
		from := checksum.Progress{}
		if i == resume.Read {
			from = resume.Hash
		}
		report := func(p checksum.Progress) { activity.RecordHeartbeat(ctx, verifyProgress{Read: i, Hash: p}) }
		file := filepath.Join(staged.StagingDir, filepath.FromSlash(r.Path))
		if err := checksum.VerifyMD5From(ctx, file, r.MD5, r.Size, from, progressInterval, report); err != nil {
			if ctx.Err() != nil {
				return VerifyResult{}, err
			}
			return VerifyResult{}, permanent(ErrChecksumMismatch, err, "package %s: %v", in.Package, err)
		}
		activity.RecordHeartbeat(ctx, verifyProgress{Read: i + 1})
	}
	return VerifyResult{Reads: len(sf.Reads)}, nil
}

// PublishPackage moves the verified package into samples/<package> and writes READY last.
// An existing destination is never overwritten. Every file and directory of the package is
// fsynced before the move, both parents after it and the package directory after READY, so
// that after a host crash READY never stands beside truncated or missing data.
func (a *ImportActivities) PublishPackage(ctx context.Context, in ImportInput, staged FetchResult) (PublishResult, error) {
	if err := validPackageName(in.Package); err != nil {
		return PublishResult{}, err
	}
	dest := a.layout().PublishedDir(in.Package)
	_, stagedErr := os.Stat(staged.StagingDir)
	_, destErr := os.Stat(dest)
	switch {
	case destErr == nil && stagedErr == nil:
		// A fresh copy is staged but the package was imported before: drop the copy.
		_ = os.RemoveAll(staged.StagingDir)
		return PublishResult{}, permanent(ErrDuplicateImport, nil, "%s already exists: not overwriting an imported package", dest)
	case destErr == nil:
		// A retry after the move: the data there is the verified copy, synced before the
		// move; make sure the move and READY are durable.
	default:
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return PublishResult{}, err
		}
		if err := syncTree(staged.StagingDir); err != nil {
			return PublishResult{}, err
		}
		if err := os.Rename(staged.StagingDir, dest); err != nil {
			return PublishResult{}, fmt.Errorf("publish package: %w", err)
		}
		if err := syncDir(filepath.Dir(staged.StagingDir)); err != nil {
			return PublishResult{}, err
		}
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return PublishResult{}, err
	}
	if err := writeReady(dest); err != nil {
		return PublishResult{}, err
	}
	return PublishResult{Dir: dest}, nil
}

// writeReady writes the READY marker into dir, then fsyncs the marker and dir.
func writeReady(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, samplepkg.ReadyMarker), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

// DiscardStaging removes a package's staging directory after a refused import.
func (a *ImportActivities) DiscardStaging(ctx context.Context, staged FetchResult) error {
	if !a.layout().IsStagingDir(staged.StagingDir) {
		return permanent(ErrInvalidPackage, nil, "refusing to remove %q: not a staging directory", staged.StagingDir)
	}
	return os.RemoveAll(staged.StagingDir)
}
