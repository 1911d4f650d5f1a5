package activities

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// verifyProgress is VerifyPackage's heartbeat: the manifest's files before File are checked
// (Failed holds those that failed), and File's hashes got as far as Hash.
type verifyProgress struct {
	File   int               `json:"file"`
	Hash   checksum.Progress `json:"hash"`
	Failed []FileCheck       `json:"failed,omitempty"`
}

// VerifyPackage checks the staged package against its manifest: exactly the files listed,
// each of its size and SHA-256; for a sample, every read the .sample lists is one of them with
// the .sample's size and MD5; for an analysis, the .analysis is JSON naming the package. The
// digests are those FetchPackage computed while it wrote the bytes it received (its digests
// file), used for a file only while its stat fingerprint is the one recorded (StagedFile): the
// data is not read again. A file without usable digests (none recorded, or the file rewritten
// since) is hashed from disk, MD5 and SHA-256 in one read pass, heartbeating, and a retry
// resumes from the file and offset last reported. It checks every file before it fails, so
// the error (ErrManifestMismatch, or ErrChecksumMismatch when a digest differs; both
// non-retryable) and the quarantine report list every file at fault.
func (a *ImportActivities) VerifyPackage(ctx context.Context, in ImportInput, staged FetchResult) (VerifyResult, error) {
	kind, id, err := a.target(in)
	if err != nil {
		return VerifyResult{}, err
	}
	if staged.StagingDir != a.layout().StagingDir(id) {
		return VerifyResult{}, permanent(ErrInvalidInput, nil, "staging directory %q is not the package's", staged.StagingDir)
	}
	m := staged.Manifest
	if m == nil { // a fetch recorded before manifests: read it again
		got, err := a.readManifest(ctx, kind, in.Package)
		if err != nil {
			return VerifyResult{}, err
		}
		m = &got
	}
	md5s, err := describedReads(kind, in.Package, staged.StagingDir, m)
	if err != nil {
		return VerifyResult{}, err
	}
	recorded := loadDigests(a.digestsFile(id))
	var resume verifyProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil || resume.File > len(m.Files) {
			resume = verifyProgress{}
		}
	}
	failed := resume.Failed
	for i := resume.File; i < len(m.Files); i++ {
		from := checksum.Progress{}
		if i == resume.File {
			from = resume.Hash
		}
		check, err := checkFile(ctx, staged.StagingDir, m.Files[i], md5s[m.Files[i].Path], recorded[m.Files[i].Path], from, func(p checksum.Progress) {
			activity.RecordHeartbeat(ctx, verifyProgress{File: i, Hash: p, Failed: failed})
		})
		if err != nil {
			return VerifyResult{}, err
		}
		if check != nil {
			failed = append(failed, *check)
		}
		activity.RecordHeartbeat(ctx, verifyProgress{File: i + 1, Failed: failed})
	}
	failed = append(failed, extraFiles(staged.StagingDir, m)...)
	failed = append(failed, unlistedReads(m, md5s)...)
	if len(failed) > 0 {
		if err := a.saveChecks(id, failed); err != nil {
			return VerifyResult{}, err
		}
		errType := ErrManifestMismatch
		for _, c := range failed {
			if c.Problem == "sha256" || c.Problem == "md5" {
				errType = ErrChecksumMismatch
			}
		}
		return VerifyResult{}, permanent(errType, nil, "package %s: %s", in.Package, describeChecks(failed))
	}
	return VerifyResult{Reads: len(md5s), Files: len(m.Files)}, nil
}

// describedReads reads the kind's description file from staging: a sample's reads (path to
// the .sample's entry, whose size must be the manifest's), an analysis's name. A description
// that is missing or malformed is ErrMalformedPackage.
func describedReads(kind samplepkg.Kind, name, dir string, m *samplepkg.Manifest) (map[string]samplepkg.Read, error) {
	desc := kind.DescriptionFile(name)
	if desc == "" {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, desc))
	if errors.Is(err, os.ErrNotExist) {
		return nil, permanent(ErrMalformedPackage, nil, "package %s has no %s", name, desc)
	} else if err != nil {
		return nil, err
	}
	if kind == samplepkg.KindAnalysis {
		var an struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(data, &an); err != nil {
			return nil, permanent(ErrMalformedPackage, err, "%s is not valid JSON: %v", desc, err)
		}
		if an.Name != name {
			return nil, permanent(ErrMalformedPackage, nil, "%s names %q, not the package", desc, an.Name)
		}
		return nil, nil
	}
	sf, err := samplepkg.ParseSampleFile(desc, data)
	if err != nil {
		return nil, permanent(ErrMalformedPackage, err, "%v", err)
	}
	reads := make(map[string]samplepkg.Read, len(sf.Reads))
	for _, r := range sf.Reads {
		reads[r.Path] = r
	}
	return reads, nil
}

// checkFile checks one listed file: present, of the manifest's size (and the .sample's for a
// read), then its SHA-256 (and MD5 for a read): rec's when rec describes the file as it is,
// else hashed from disk in one pass from from. It returns what failed, or nil.
func checkFile(ctx context.Context, dir string, f samplepkg.ManifestFile, read samplepkg.Read, rec StagedFile, from checksum.Progress, report func(checksum.Progress)) (*FileCheck, error) {
	isRead := read.Path != ""
	check := &FileCheck{Path: f.Path, WantSize: f.Size, WantSHA256: f.SHA256, WantMD5: read.MD5}
	path := filepath.Join(dir, filepath.FromSlash(f.Path))
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		check.Problem = "missing"
		return check, nil
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular() || st.Size() != f.Size:
		check.Problem, check.GotSize = "size", st.Size()
		return check, nil
	case isRead && read.Size != f.Size:
		check.Problem, check.WantSize, check.GotSize = "size", read.Size, st.Size()
		return check, nil
	}
	algs := []string{checksum.SHA256}
	if isRead {
		algs = append(algs, checksum.MD5)
	}
	var sums checksum.Digests
	size := st.Size()
	if rec.describes(st) && rec.has(algs) {
		sums = checksum.Digests{checksum.SHA256: rec.SHA256, checksum.MD5: rec.MD5}
	} else if sums, size, err = checksum.HashFileFrom(ctx, path, algs, from, progressInterval, report); err != nil {
		return nil, err
	}
	check.GotSize, check.GotSHA256, check.GotMD5 = size, sums[checksum.SHA256], sums[checksum.MD5]
	switch {
	case size != f.Size:
		check.Problem = "size"
	case check.GotSHA256 != f.SHA256:
		check.Problem = "sha256"
	case isRead && check.GotMD5 != read.MD5:
		check.Problem = "md5"
	default:
		return nil, nil
	}
	return check, nil
}

// extraFiles lists files in the staging directory the manifest does not list (part files
// included: a finished fetch leaves none).
func extraFiles(dir string, m *samplepkg.Manifest) []FileCheck {
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
	}
	var extra []FileCheck
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if rel = filepath.ToSlash(rel); !listed[rel] {
			info, _ := d.Info()
			c := FileCheck{Path: rel, Problem: "extra"}
			if info != nil {
				c.GotSize = info.Size()
			}
			extra = append(extra, c)
		}
		return nil
	})
	return extra
}

// unlistedReads are the .sample's reads the manifest does not list.
func unlistedReads(m *samplepkg.Manifest, reads map[string]samplepkg.Read) []FileCheck {
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
	}
	var out []FileCheck
	for p, r := range reads {
		if !listed[p] {
			out = append(out, FileCheck{Path: p, Problem: "not in manifest", WantSize: r.Size, WantMD5: r.MD5})
		}
	}
	slices.SortFunc(out, func(a, b FileCheck) int { return strings.Compare(a.Path, b.Path) })
	return out
}
