package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// LimsActivities are the lims-exporter: they read the LIMS export queue and write each queued
// sample or analysis as a package into the NSC export area (<ExportDir>/<kind>/<name>/), where
// the nsc-exporter finds it.
type LimsActivities struct {
	// Queue is the LIMS's export queue: limsexport.ClarityQueue in production,
	// limsexport.DirQueue in the demo.
	Queue limsexport.Queue
	// ExportDir is the NSC export area.
	ExportDir string
	// Hasher names packages in logs, results and temporary directories.
	Hasher *ident.Hasher
}

// limsProgress is ExportLimsItem's heartbeat: the read being copied and its bytes written.
// A retry starts the package again (its temporary directory is rebuilt from the sources):
// the heartbeat keeps a long copy alive, it is not a resume point.
type limsProgress struct {
	Path    string `json:"path"`
	Written int64  `json:"written"`
}

// ListLimsQueue returns a page of the items the LIMS says are ready to export.
func (a *LimsActivities) ListLimsQueue(ctx context.Context, page ScanPage) (LimsQueuePage, error) {
	if page.Limit <= 0 {
		return LimsQueuePage{}, permanent(ErrInvalidInput, nil, "ListLimsQueue: page limit %d is not positive", page.Limit)
	}
	entries, next, err := a.Queue.Pending(ctx, page.Cursor, page.Limit)
	if err != nil {
		return LimsQueuePage{}, limsError(err)
	}
	out := LimsQueuePage{Items: make([]LimsItem, 0, len(entries)), NextCursor: next}
	for _, e := range entries {
		// The child run's id: the package's hash; an item whose document could not be read
		// (no name yet) is named by its LIMS id's hash, and its export fails naming that id.
		id := a.Hasher.ID("lims-item", e.ID)
		if e.Name != "" {
			id = samplepkg.KindID(a.Hasher, e.Kind, e.Name)
		}
		out.Items = append(out.Items, LimsItem{ID: e.ID, Kind: e.Kind, Name: e.Name, PackageID: id})
	}
	return out, nil
}

// ExportLimsItem writes one queued item as a package into the export area, then marks it
// exported in the LIMS: the mark comes after the package is durable, so a crash in between
// exports it again, which finds the identical package (AlreadyExported) and only marks it.
func (a *LimsActivities) ExportLimsItem(ctx context.Context, item LimsItem) (LimsExportResult, error) {
	entry := limsexport.Entry{ID: item.ID, Kind: item.Kind, Name: item.Name}
	d, err := a.Queue.Describe(ctx, entry)
	if err != nil {
		return LimsExportResult{}, limsError(err)
	}
	id := samplepkg.KindID(a.Hasher, d.Kind, d.Name())
	logger := activity.GetLogger(ctx)
	logger.Info("exporting LIMS item", "kind", d.Kind, "package", id) // the item id may be a file name: not logged
	reported, last := int64(0), time.Now()
	progress := func(path string, written int64) {
		if written < reported || written-reported >= progressBytes || time.Since(last) >= progressInterval {
			activity.RecordHeartbeat(ctx, limsProgress{Path: path, Written: written})
			reported, last = written, time.Now()
		}
	}
	w, err := limsexport.Writer{Root: a.ExportDir}.Write(ctx, id, d, progress)
	if err != nil {
		return LimsExportResult{}, limsError(err)
	}
	if err := a.Queue.MarkExported(ctx, entry); err != nil {
		return LimsExportResult{}, limsError(err)
	}
	logger.Info("exported LIMS item", "package", id, "files", w.Files, "bytes", w.Bytes, "alreadyExported", w.AlreadyExported)
	return LimsExportResult{PackageID: id, Dir: w.Dir, Files: w.Files, Bytes: w.Bytes, AlreadyExported: w.AlreadyExported}, nil
}

// limsError makes the failures retrying cannot fix non-retryable, by type.
func limsError(err error) error {
	for _, m := range []struct {
		sentinel error
		errType  string
	}{
		{limsexport.ErrMalformed, ErrMalformedLimsDocument},
		{limsexport.ErrNoReads, ErrSampleWithoutReads},
		{limsexport.ErrUnsafeName, ErrInvalidPackage},
		{limsexport.ErrChecksumMismatch, ErrChecksumMismatch},
		{limsexport.ErrConflict, ErrExportConflict},
		{limsexport.ErrSourceChanged, ErrSourceChanged},
	} {
		if errors.Is(err, m.sentinel) {
			return permanent(m.errType, nil, "%v", err)
		}
	}
	return err
}
