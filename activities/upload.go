package activities

import (
	"context"
	"errors"
)

// UploadActivities are the nsc-exporter: they find complete packages in the NSC export area and
// upload each to the TSD S3 endpoint, manifest last. (Skeleton: fields and bodies are filled in
// by the nsc-exporter change.)
type UploadActivities struct{}

// FindExportPackages returns a page of complete packages in the export area not yet uploaded.
func (a *UploadActivities) FindExportPackages(ctx context.Context, page ScanPage) (ExportScanPage, error) {
	return ExportScanPage{}, errors.New("FindExportPackages: not implemented yet")
}

// UploadPackage uploads one package's files and then its manifest.
func (a *UploadActivities) UploadPackage(ctx context.Context, pkg ExportPackage) (UploadResult, error) {
	return UploadResult{}, errors.New("UploadPackage: not implemented yet")
}
