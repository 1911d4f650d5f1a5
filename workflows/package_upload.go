package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// The nsc-exporter (NSC side): a scheduled scan of the export area for complete packages not yet
// uploaded, one PackageUpload child per package, which uploads it to the TSD S3 endpoint with
// its manifest written last.

var uploadActs *activities.UploadActivities

// NSCExportScanProcedure names the nsc-exporter's scan in search attributes and schedules.
const NSCExportScanProcedure = "NSCExportScan"

// NSCExportScan finds complete packages in the export area and uploads each in its own child run.
// Packages still being written are left for the next scan (counted as "unsettled").
func NSCExportScan(ctx workflow.Context, in WatcherScanInput) (*WatcherScanResult, error) {
	return runScan(ctx, scanner{procedure: NSCExportScanProcedure, self: NSCExportScan,
		list: func(ctx workflow.Context, page activities.ScanPage) (scanPage, error) {
			var got activities.ExportScanPage
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, findExportOptions), uploadActs.FindExportPackages, page).Get(ctx, &got)
			out := scanPage{next: got.NextCursor, skipped: map[string]int{}}
			if got.Unsettled > 0 {
				out.skipped["unsettled"] = got.Unsettled
			}
			for _, p := range got.Packages {
				out.children = append(out.children, scanChild{id: PackageUploadWorkflowID(p.PackageID),
					packageID: p.PackageID, procedure: "PackageUpload", workflow: PackageUpload,
					input: PackageUploadInput{Package: p, Environment: in.Environment}})
			}
			return out, err
		}}, in)
}

// PackageUploadInput is one complete package of the export area to upload.
type PackageUploadInput struct {
	Package     activities.ExportPackage `json:"package"`
	Environment string                   `json:"environment,omitempty"`
}

// PackageUploadWorkflowID is the child's id: the package's keyed hash, never its name.
func PackageUploadWorkflowID(packageID string) string { return "upload-" + packageID }

// PackageUpload uploads one package (multipart, resumed from its uploaded parts after an
// interruption) and then its manifest.
func PackageUpload(ctx workflow.Context, in PackageUploadInput) (*activities.UploadResult, error) {
	return runPackageStep(ctx, "PackageUpload", func(ctx workflow.Context) (*activities.UploadResult, error) {
		var res activities.UploadResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, uploadOptions), uploadActs.UploadPackage, in.Package).Get(ctx, &res)
		return &res, err
	})
}
