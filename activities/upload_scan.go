package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// defaultScanLimit is a page's size when the scan asks for none.
const defaultScanLimit = 100

// exportCandidate is a package looked at once, waiting for the second look.
type exportCandidate struct {
	pkg         ExportPackage
	fingerprint string
}

// FindExportPackages returns a page of complete packages in the export area whose manifest is
// not on the S3 endpoint yet, in scan order (samplepkg.Kinds, then names sorted) after
// page.Cursor ("<kind>/<name>"). A package is complete when it holds its description file
// (.sample, .analysis; backups and ELLA's incoming folders have none) and none of its files
// changed (path, size, mtime) between two looks Settle apart; the others are counted in
// Unsettled and left for the next run. Dot-entries (the lims-exporter's .tmp-* directories)
// are not packages.
func (a *UploadActivities) FindExportPackages(ctx context.Context, page ScanPage) (ExportScanPage, error) {
	limit := page.Limit
	if limit <= 0 {
		limit = defaultScanLimit
	}
	after, err := parseExportCursor(page.Cursor)
	if err != nil {
		return ExportScanPage{}, err
	}
	if st, err := os.Stat(a.ExportDir); err != nil || !st.IsDir() {
		return ExportScanPage{}, fmt.Errorf("export area %q is not a readable directory: %v", a.ExportDir, err)
	}
	var (
		res   ExportScanPage
		cands []exportCandidate
	)
	full := false
	for _, kind := range samplepkg.Kinds {
		if full {
			break
		}
		names, err := a.packageNames(ctx, kind)
		if err != nil {
			return ExportScanPage{}, err
		}
		for _, name := range names {
			if exportOrder(kind, name) <= after {
				continue
			}
			if len(cands)+res.Unsettled == limit {
				full = true
				break
			}
			res.NextCursor = string(kind) + "/" + name
			c, uploaded, err := a.firstLook(ctx, kind, name)
			switch {
			case err != nil:
				return ExportScanPage{}, err
			case uploaded:
			case c == nil:
				res.Unsettled++
			default:
				cands = append(cands, *c)
			}
			activity.RecordHeartbeat(ctx, len(cands))
		}
	}
	if !full {
		res.NextCursor = ""
	}
	if len(cands) > 0 {
		if err := a.settle(ctx); err != nil {
			return ExportScanPage{}, err
		}
	}
	for _, c := range cands {
		fp, _, err := fingerprint(a.packageDir(c.pkg.Kind, c.pkg.Name))
		if err != nil {
			return ExportScanPage{}, err
		}
		if fp != c.fingerprint {
			res.Unsettled++
			continue
		}
		res.Packages = append(res.Packages, c.pkg)
	}
	return res, nil
}

// exportOrder is a package's position as a string that sorts like the scan: the kind's index
// in samplepkg.Kinds, then the name.
func exportOrder(k samplepkg.Kind, name string) string {
	for i, kind := range samplepkg.Kinds {
		if kind == k {
			return fmt.Sprintf("%d/%s", i, name)
		}
	}
	return ""
}

// parseExportCursor turns a page cursor "<kind>/<name>" into its exportOrder ("" = from the start).
func parseExportCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	kind, name, ok := strings.Cut(cursor, "/")
	k, err := samplepkg.ParseKind(kind)
	if !ok || kind == "" || err != nil || samplepkg.CheckName(name) != nil {
		return "", permanent(ErrInvalidInput, err, "scan cursor %q is not <kind>/<name>", cursor)
	}
	return exportOrder(k, name), nil
}

// packageNames lists the directories of kind in the export area, sorted, skipping
// dot-entries and names that are not plain package names (logged by their hash).
func (a *UploadActivities) packageNames(ctx context.Context, kind samplepkg.Kind) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(a.ExportDir, string(kind)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			continue
		}
		if samplepkg.CheckName(e.Name()) != nil {
			activity.GetLogger(ctx).Warn("export area: skipping a directory that is not a package name",
				"kind", string(kind), "package", samplepkg.KindID(a.Hasher, kind, e.Name()))
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil // os.ReadDir sorts by name
}

// firstLook returns the package's fingerprint when it is a candidate, uploaded=true when its
// manifest is on the S3 endpoint, and neither when it is still being written (no description
// file yet, or no file at all).
func (a *UploadActivities) firstLook(ctx context.Context, kind samplepkg.Kind, name string) (*exportCandidate, bool, error) {
	_, found, err := s3store.Head(ctx, a.S3, a.Bucket, samplepkg.ManifestKey(kind, name))
	if err != nil || found {
		return nil, found, err
	}
	dir := a.packageDir(kind, name)
	if desc := kind.DescriptionFile(name); desc != "" {
		st, err := os.Stat(filepath.Join(dir, desc))
		if err != nil || !st.Mode().IsRegular() {
			return nil, false, nil
		}
	}
	fp, files, err := fingerprint(dir)
	if err != nil || files == 0 {
		return nil, false, err
	}
	pkg := ExportPackage{Kind: kind, Name: name, PackageID: samplepkg.KindID(a.Hasher, kind, name)}
	return &exportCandidate{pkg: pkg, fingerprint: fp}, false, nil
}

// fingerprint describes every entry under dir (path, type, size, mtime) and counts its files.
// A package that vanished meanwhile has the empty fingerprint.
func fingerprint(dir string) (string, int, error) {
	var b strings.Builder
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if errors.Is(err, os.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		if !d.IsDir() {
			files++
		}
		fmt.Fprintf(&b, "%q %s %d %d\n", p, info.Mode().Type(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String(), files, err
}

// settle waits Settle, heartbeating every second.
func (a *UploadActivities) settle(ctx context.Context) error {
	wait := a.Settle
	if wait == 0 {
		wait = defaultSettle
	}
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		activity.RecordHeartbeat(ctx, nil)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, time.Second)):
		}
	}
}
