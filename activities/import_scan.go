package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsflow/opsflow/internal/samplepkg"
)

// QuarantineReportFile is the report QuarantinePackage writes beside a refused package.
const QuarantineReportFile = "REPORT.json"

// ListImportCandidates returns one page of the manifests on the S3 endpoint (at most
// page.Limit keys after page.Cursor) as the packages to import: those neither published in
// the durable area (Published counts them) nor quarantined (Quarantined). A key under
// manifests/ that names no package is listed in Refused, never imported. NextCursor is the
// last key listed when more follow.
func (a *ImportActivities) ListImportCandidates(ctx context.Context, page ScanPage) (ImportCandidatesPage, error) {
	if page.Limit <= 0 {
		return ImportCandidatesPage{}, permanent(ErrInvalidInput, nil, "scan page limit %d: must be positive", page.Limit)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(samplepkg.ManifestPrefix), MaxKeys: aws.Int32(int32(min(page.Limit, 1000)))}
	if page.Cursor != "" {
		in.StartAfter = aws.String(page.Cursor)
	}
	out, err := a.S3.ListObjectsV2(ctx, in)
	if err != nil {
		return ImportCandidatesPage{}, fmt.Errorf("list s3://%s/%s: %w", a.Bucket, samplepkg.ManifestPrefix, err)
	}
	var res ImportCandidatesPage
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		kind, name, err := samplepkg.ParseManifestKey(key)
		if err != nil {
			res.Refused = append(res.Refused, key)
			continue
		}
		id := samplepkg.KindID(a.Hasher, kind, name)
		switch {
		case pathExists(a.layout().PublishedDirOf(kind, name)):
			res.Published++
		case pathExists(a.layout().QuarantineDir(kind, id)):
			res.Quarantined++
		default:
			res.Packages = append(res.Packages, ExportPackage{Kind: kind, Name: name, PackageID: id})
		}
	}
	if aws.ToBool(out.IsTruncated) && len(out.Contents) > 0 {
		res.NextCursor = aws.ToString(out.Contents[len(out.Contents)-1].Key)
	}
	return res, nil
}

func pathExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// QuarantinePackage moves a package that failed verification from staging into
// <durable>/.quarantine/<kind>/<id> and writes REPORT.json there (the reason, the package, the
// time, and each file at fault with what was expected and found, as the failed check left
// them), then fsyncs. A package refused before anything was staged gets the report alone.
// Later scans skip a quarantined package until an operator removes its directory. Retrying it
// is harmless: a package already moved stays, and its report is written again. When the
// package was quarantined before, the earlier copy is kept and the new one discarded.
func (a *ImportActivities) QuarantinePackage(ctx context.Context, in QuarantineInput) (QuarantineResult, error) {
	kind, id, err := a.target(in.Package)
	if err != nil {
		return QuarantineResult{}, err
	}
	staging := a.layout().StagingDir(id)
	if in.Staged.StagingDir != "" && in.Staged.StagingDir != staging {
		return QuarantineResult{}, permanent(ErrInvalidInput, nil, "staging directory %q is not the package's", in.Staged.StagingDir)
	}
	dir := a.layout().QuarantineDir(kind, id)
	report := filepath.Join(dir, QuarantineReportFile)
	files := a.loadChecks(id)
	if files == nil {
		files = earlierReport(report).Files
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return QuarantineResult{}, err
	}
	switch {
	case pathExists(staging) && !pathExists(dir):
		if err := syncTree(staging); err != nil {
			return QuarantineResult{}, err
		}
		if err := os.Rename(staging, dir); err != nil {
			return QuarantineResult{}, fmt.Errorf("quarantine package: %w", err)
		}
		if err := syncDir(filepath.Dir(staging)); err != nil {
			return QuarantineResult{}, err
		}
		// The digests recorded while staging describe files now in quarantine.
		if err := removeDigests(a.digestsFile(id)); err != nil {
			return QuarantineResult{}, err
		}
	case pathExists(staging):
		if err := os.RemoveAll(staging); err != nil {
			return QuarantineResult{}, err
		}
	default:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return QuarantineResult{}, err
		}
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return QuarantineResult{}, err
	}
	rep := QuarantineReport{Reason: in.Reason, Kind: kind, Package: in.Package.Package, PackageID: id,
		Time: time.Now().UTC().Format(time.RFC3339), Files: files, Staged: hasFilesBesides(dir, QuarantineReportFile)}
	if err := writeReport(report, rep); err != nil {
		return QuarantineResult{}, err
	}
	if err := os.Remove(a.checksFile(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return QuarantineResult{}, err
	}
	return QuarantineResult{Dir: dir, Report: report}, nil
}

// earlierReport is the report an earlier attempt wrote, or the zero report.
func earlierReport(path string) QuarantineReport {
	var rep QuarantineReport
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &rep)
	}
	return rep
}

func hasFilesBesides(dir, name string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != name {
			return true
		}
	}
	return false
}

// writeReport writes the report through a synced temporary file renamed into place, then
// fsyncs the directory: a crash leaves the old report or the new one, never half of one.
func writeReport(path string, rep QuarantineReport) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
