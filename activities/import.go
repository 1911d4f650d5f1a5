package activities

import (
	"context"
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
// object's size are kept.
func (a *ImportActivities) FetchPackage(ctx context.Context, in ImportInput) (FetchResult, error) {
	if err := validPackageName(in.Package); err != nil {
		return FetchResult{}, err
	}
	res := FetchResult{PackageID: samplepkg.ID(a.Hasher, in.Package), Environment: a.Environment}
	res.StagingDir = a.layout().StagingDir(res.PackageID)
	prefix := samplepkg.Prefix(in.Package)
	p := s3.NewListObjectsV2Paginator(a.S3, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix)})
	type object struct {
		key  string
		size int64
	}
	var objects []object
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return FetchResult{}, fmt.Errorf("list s3://%s/%s: %w", a.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			rel := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue
			}
			if !samplepkg.SafePath(rel) {
				return FetchResult{}, permanent(ErrInvalidPackage, nil, "object key %q escapes the package directory", aws.ToString(o.Key))
			}
			objects = append(objects, object{aws.ToString(o.Key), aws.ToInt64(o.Size)})
		}
	}
	if len(objects) == 0 {
		return FetchResult{}, permanent(ErrPackageNotFound, nil, "no objects under s3://%s/%s", a.Bucket, prefix)
	}
	for _, o := range objects {
		rel := strings.TrimPrefix(o.key, prefix)
		res.Files = append(res.Files, rel)
		res.Bytes += o.size
		if in.DryRun {
			continue
		}
		dest := filepath.Join(res.StagingDir, filepath.FromSlash(rel))
		if st, err := os.Stat(dest); err == nil && st.Size() == o.size {
			continue // staged by an earlier attempt
		}
		if err := a.download(ctx, o.key, dest); err != nil {
			return FetchResult{}, err
		}
		activity.RecordHeartbeat(ctx, len(res.Files))
	}
	return res, nil
}

func (a *ImportActivities) download(ctx context.Context, key, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	body, err := s3store.GetRange(ctx, a.S3, a.Bucket, key, 0)
	if err != nil {
		return err
	}
	defer body.Close()
	tmp := dest + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return fmt.Errorf("download s3://%s/%s: %w", a.Bucket, key, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dest)
}

// VerifyPackage checks every read listed in <package>.sample: present, size and MD5.
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
	for i, r := range sf.Reads {
		file := filepath.Join(staged.StagingDir, filepath.FromSlash(r.Path))
		if err := checksum.VerifyMD5(file, r.MD5, r.Size); err != nil {
			return VerifyResult{}, permanent(ErrChecksumMismatch, err, "package %s: %v", in.Package, err)
		}
		activity.RecordHeartbeat(ctx, i+1)
	}
	return VerifyResult{Reads: len(sf.Reads)}, nil
}

// PublishPackage moves the verified package into samples/<package> and writes READY last.
// An existing destination is never overwritten.
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
		// A retry after the move: the data there is the verified copy; make sure READY is written.
	default:
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return PublishResult{}, err
		}
		if err := os.Rename(staged.StagingDir, dest); err != nil {
			return PublishResult{}, fmt.Errorf("publish package: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dest, samplepkg.ReadyMarker), nil, 0o644); err != nil {
		return PublishResult{}, err
	}
	return PublishResult{Dir: dest}, nil
}

// DiscardStaging removes a package's staging directory after a refused import.
func (a *ImportActivities) DiscardStaging(ctx context.Context, staged FetchResult) error {
	if !a.layout().IsStagingDir(staged.StagingDir) {
		return permanent(ErrInvalidPackage, nil, "refusing to remove %q: not a staging directory", staged.StagingDir)
	}
	return os.RemoveAll(staged.StagingDir)
}
