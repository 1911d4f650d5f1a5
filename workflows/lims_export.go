package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// The lims-exporter (NSC side): a scheduled scan of the LIMS export queue, one LimsPackageExport
// child per queued sample or analysis, which writes its package into the NSC export area.

var limsActs *activities.LimsActivities

// LimsExportScanProcedure names the lims-exporter's scan in search attributes and schedules.
const LimsExportScanProcedure = "LimsExportScan"

// LimsExportScan lists the LIMS export queue and exports each item in its own child run.
func LimsExportScan(ctx workflow.Context, in WatcherScanInput) (*WatcherScanResult, error) {
	return runScan(ctx, scanner{procedure: LimsExportScanProcedure, self: LimsExportScan,
		list: func(ctx workflow.Context, page activities.ScanPage) (scanPage, error) {
			var got activities.LimsQueuePage
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, listOptions), limsActs.ListLimsQueue, page).Get(ctx, &got)
			out := scanPage{next: got.NextCursor}
			for _, it := range got.Items {
				out.children = append(out.children, scanChild{id: LimsPackageExportWorkflowID(it.PackageID),
					packageID: it.PackageID, procedure: "LimsPackageExport", workflow: LimsPackageExport,
					input: LimsPackageExportInput{Item: it, Environment: in.Environment}})
			}
			return out, err
		}}, in)
}

// LimsPackageExportInput is one queued LIMS item to export.
type LimsPackageExportInput struct {
	Item        activities.LimsItem `json:"item"`
	Environment string              `json:"environment,omitempty"`
}

// LimsPackageExportWorkflowID is the child's id: the package's keyed hash, never its name.
func LimsPackageExportWorkflowID(packageID string) string { return "lims-export-" + packageID }

// LimsPackageExport writes one sample or analysis package into the export area and marks it
// exported in the LIMS (ExportLimsItem does both, the mark after the package is durable).
func LimsPackageExport(ctx workflow.Context, in LimsPackageExportInput) (*activities.LimsExportResult, error) {
	return runPackageStep(ctx, "LimsPackageExport", func(ctx workflow.Context) (*activities.LimsExportResult, error) {
		var res activities.LimsExportResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, limsExportOptions), limsActs.ExportLimsItem, in.Item).Get(ctx, &res)
		return &res, err
	})
}

// runPackageStep is the frame of a watcher's per-package child: progress query, outcome search
// attribute, and one alert when the step fails for good.
func runPackageStep[T any](ctx workflow.Context, procedure string, step func(workflow.Context) (*T, error)) (*T, error) {
	tr, err := newTracker(ctx, procedure)
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	tr.step(procedure)
	res, err := step(ctx)
	if err != nil {
		tr.step("failed")
		tr.p.Error = err.Error()
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}
	tr.step("done")
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}
