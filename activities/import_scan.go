package activities

import (
	"context"
	"errors"
)

// ListImportCandidates returns a page of packages whose manifest is on the S3 endpoint and that
// are neither published nor quarantined. (Skeleton, filled in by the filelock-exporter change.)
func (a *ImportActivities) ListImportCandidates(ctx context.Context, page ScanPage) (ImportCandidatesPage, error) {
	return ImportCandidatesPage{}, errors.New("ListImportCandidates: not implemented yet")
}

// QuarantinePackage moves a staged package that failed verification into quarantine with a report.
func (a *ImportActivities) QuarantinePackage(ctx context.Context, in QuarantineInput) (QuarantineResult, error) {
	return QuarantineResult{}, errors.New("QuarantinePackage: not implemented yet")
}
