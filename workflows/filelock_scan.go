package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// The filelock-exporter (TSD side): a scheduled scan of the S3 endpoint for packages whose
// manifest is present and that are neither in the durable area nor quarantined, one
// PackageImport child per package. A package that fails verification is quarantined by its
// child, so later scans skip it instead of failing on it forever.

// FilelockScanProcedure names the filelock-exporter's scan in search attributes and schedules.
const FilelockScanProcedure = "FilelockScan"

// FilelockScan imports every uploaded package not yet imported, each in its own PackageImport.
func FilelockScan(ctx workflow.Context, in WatcherScanInput) (*WatcherScanResult, error) {
	return runScan(ctx, scanner{procedure: FilelockScanProcedure, self: FilelockScan,
		list: func(ctx workflow.Context, page activities.ScanPage) (scanPage, error) {
			var got activities.ImportCandidatesPage
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, listOptions), importActs.ListImportCandidates, page).Get(ctx, &got)
			out := scanPage{next: got.NextCursor, skipped: map[string]int{}}
			if got.Published > 0 {
				out.skipped["published"] = got.Published
			}
			if got.Quarantined > 0 {
				out.skipped["quarantined"] = got.Quarantined
			}
			// A manifest key naming no package (unknown kind, unsafe name) is never imported;
			// the count shows in the scan's totals, the keys in its activity result.
			if len(got.Refused) > 0 {
				out.skipped["refused-manifest-key"] = len(got.Refused)
			}
			for _, p := range got.Packages {
				out.children = append(out.children, scanChild{id: PackageImportWorkflowID(p.PackageID),
					packageID: p.PackageID, procedure: "PackageImport", workflow: PackageImport,
					input: PackageImportInput{Package: p.Name, Kind: p.Kind, Environment: in.Environment}})
			}
			return out, err
		}}, in)
}
