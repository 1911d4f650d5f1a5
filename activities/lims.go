package activities

import (
	"context"
	"errors"
)

// LimsActivities are the lims-exporter: they read the LIMS export queue and write each queued
// sample or analysis as a package into the NSC export area. (Skeleton: fields and bodies are
// filled in by the lims-exporter change.)
type LimsActivities struct{}

// ListLimsQueue returns a page of the items the LIMS says are ready to export.
func (a *LimsActivities) ListLimsQueue(ctx context.Context, page ScanPage) (LimsQueuePage, error) {
	return LimsQueuePage{}, errors.New("ListLimsQueue: not implemented yet")
}

// ExportLimsItem writes one queued item as a package into the export area, then marks it
// exported in the LIMS.
func (a *LimsActivities) ExportLimsItem(ctx context.Context, item LimsItem) (LimsExportResult, error) {
	return LimsExportResult{}, errors.New("ExportLimsItem: not implemented yet")
}
