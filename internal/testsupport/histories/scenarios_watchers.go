package histories

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/workflows"
)

// --- The tsd-import watchers' scans and their per-package children

const continuedAsNew = enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW

// Expect registers the script of a run the scenario does not start itself (a child run).
func (e *Env) Expect(workflowID string, script Script) { e.stubs.add(workflowID, script) }

// watcherPackage is a made-up package of a scan scenario, its hash unique to the recording
// (child ids are unique in the namespace).
func watcherPackage(e *Env, scenario string, n int, kind samplepkg.Kind) activities.ExportPackage {
	return activities.ExportPackage{Kind: kind, Name: Package + "-" + string(rune('a'+n)),
		PackageID: "h-rec" + e.Stamp + scenario + string(rune('a'+n))}
}

// scanStart is a scan's start as a Schedule makes it.
func scanStart(e *Env, procedure, base, scenario string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: e.ID(base, scenario), WorkflowExecutionTimeout: 24 * time.Hour,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet(procedure),
			workflows.EnvironmentKey.ValueSet(Environment))}
}

// childRun is a recorded child: its id and its latest run.
func childRun(ctx context.Context, e *Env, out Output, id string, want enumspb.WorkflowExecutionStatus) (Recorded, error) {
	desc, err := e.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return Recorded{}, err
	}
	return Recorded{Output: out, WorkflowID: id, RunID: desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), Want: want}, nil
}

func watcherScenarios() []Scenario {
	return []Scenario{limsScanScenario(), nscScanScenario(), filelockScanScenario(), filelockContinuedScenario(),
		scanListingFailedScenario("lims_export_scan", "lims-exporter", workflows.LimsExportScanProcedure, workflows.LimsExportScan, "ListLimsQueue"),
		scanListingFailedScenario("nsc_export_scan", "nsc-exporter", workflows.NSCExportScanProcedure, workflows.NSCExportScan, "FindExportPackages"),
		scanListingFailedScenario("filelock_scan", "filelock-exporter", workflows.FilelockScanProcedure, workflows.FilelockScan, "ListImportCandidates"),
	}
}

func limsScanScenario() Scenario {
	scan := Output{Workflow: "lims_export_scan", Name: "exported"}
	okChild := Output{Workflow: "lims_package_export", Name: "exported"}
	badChild := Output{Workflow: "lims_package_export", Name: "refused"}
	return Scenario{Name: "lims_export_scan_exported", Outputs: []Output{scan, okChild, badChild},
		About: "two queued items: one exported, one refused (a sample without reads, operators notified)",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			a, b := watcherPackage(e, "lims", 0, samplepkg.KindSample), watcherPackage(e, "lims", 1, samplepkg.KindSample)
			items := []activities.LimsItem{{ID: "2-101", Kind: a.Kind, Name: a.Name, PackageID: a.PackageID},
				{ID: "2-102", Kind: b.Kind, Name: b.Name, PackageID: b.PackageID}}
			idA, idB := workflows.LimsPackageExportWorkflowID(a.PackageID), workflows.LimsPackageExportWorkflowID(b.PackageID)
			e.Expect(idA, Script{"ExportLimsItem": ok(activities.LimsExportResult{PackageID: a.PackageID,
				Dir: "/srv/nsc-export/samples/" + a.Name, Files: 3, Bytes: 2048})})
			e.Expect(idB, Script{"ExportLimsItem": fails(refused(activities.ErrSampleWithoutReads, "LIMS item 2-102: the LIMS lists no reads for the sample")),
				"NotifyOperators": notified})
			run, _, err := e.Start(ctx, scanStart(e, workflows.LimsExportScanProcedure, "lims-exporter", "exported"),
				Script{"ListLimsQueue": ok(activities.LimsQueuePage{Items: items})}, workflows.LimsExportScan, workflows.WatcherScanInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			if err := run.Get(ctx, nil); err != nil {
				return nil, err
			}
			r1, err := childRun(ctx, e, okChild, idA, completed)
			if err != nil {
				return nil, err
			}
			r2, err := childRun(ctx, e, badChild, idB, failed)
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: scan, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: completed}, r1, r2}, nil
		}}
}

func nscScanScenario() Scenario {
	scan := Output{Workflow: "nsc_export_scan", Name: "uploaded"}
	okChild := Output{Workflow: "package_upload", Name: "uploaded"}
	badChild := Output{Workflow: "package_upload", Name: "refused"}
	return Scenario{Name: "nsc_export_scan_uploaded", Outputs: []Output{scan, okChild, badChild},
		About: "two complete packages (and one still being written): one uploaded, one refused (an unsafe file name)",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			a, b := watcherPackage(e, "nsc", 0, samplepkg.KindSample), watcherPackage(e, "nsc", 1, samplepkg.KindAnalysis)
			idA, idB := workflows.PackageUploadWorkflowID(a.PackageID), workflows.PackageUploadWorkflowID(b.PackageID)
			e.Expect(idA, Script{"UploadPackage": ok(activities.UploadResult{PackageID: a.PackageID, Files: 3, Bytes: 2048,
				ManifestKey: samplepkg.ManifestKey(a.Kind, a.Name), Sent: 2048})})
			e.Expect(idB, Script{"UploadPackage": fails(refused(activities.ErrUnsafeObjectKey, "file %q of the package is not a safe object key", "a//b")),
				"NotifyOperators": notified})
			run, _, err := e.Start(ctx, scanStart(e, workflows.NSCExportScanProcedure, "nsc-exporter", "uploaded"),
				Script{"FindExportPackages": ok(activities.ExportScanPage{Packages: []activities.ExportPackage{a, b}, Unsettled: 1})},
				workflows.NSCExportScan, workflows.WatcherScanInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			if err := run.Get(ctx, nil); err != nil {
				return nil, err
			}
			r1, err := childRun(ctx, e, okChild, idA, completed)
			if err != nil {
				return nil, err
			}
			r2, err := childRun(ctx, e, badChild, idB, failed)
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: scan, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: completed}, r1, r2}, nil
		}}
}

// importChildScript is a PackageImport child that succeeds.
func importChildScript(p activities.ExportPackage) Script {
	staged := activities.FetchResult{PackageID: p.PackageID, Environment: Environment, StagingDir: "/srv/durable/.staging/" + p.PackageID,
		Files: []string{p.Name + ".sample", "R1.fastq.gz"}, Bytes: 1024, PublishedDir: "/srv/durable/samples/" + p.Name}
	return Script{"FetchPackage": ok(staged), "VerifyPackage": ok(activities.VerifyResult{Reads: 1}),
		"PublishPackage": ok(activities.PublishResult{Dir: staged.PublishedDir})}
}

func filelockScanScenario() Scenario {
	scan := Output{Workflow: "filelock_scan", Name: "imported"}
	return Scenario{Name: "filelock_scan_imported", Outputs: []Output{scan},
		About: "one uploaded package imported by its PackageImport child; published and quarantined ones skipped",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			a := watcherPackage(e, "filelock", 0, samplepkg.KindSample)
			e.Expect(workflows.PackageImportWorkflowID(a.PackageID), importChildScript(a))
			run, _, err := e.Start(ctx, scanStart(e, workflows.FilelockScanProcedure, "filelock-exporter", "imported"),
				Script{"ListImportCandidates": ok(activities.ImportCandidatesPage{Packages: []activities.ExportPackage{a}, Published: 4, Quarantined: 1})},
				workflows.FilelockScan, workflows.WatcherScanInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: scan, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: completed}}, nil
		}}
}

func filelockContinuedScenario() Scenario {
	scan := Output{Workflow: "filelock_scan", Name: "continued_as_new"}
	return Scenario{Name: "filelock_scan_continued_as_new", Outputs: []Output{scan},
		About: "a scan of batch size 1 and one batch per run: the first run imports a package and continues as new with its cursor",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			a, b := watcherPackage(e, "can", 0, samplepkg.KindSample), watcherPackage(e, "can", 1, samplepkg.KindSample)
			e.Expect(workflows.PackageImportWorkflowID(a.PackageID), importChildScript(a))
			e.Expect(workflows.PackageImportWorkflowID(b.PackageID), importChildScript(b))
			run, _, err := e.Start(ctx, scanStart(e, workflows.FilelockScanProcedure, "filelock-exporter", "continued"),
				Script{"ListImportCandidates": ok(
					activities.ImportCandidatesPage{Packages: []activities.ExportPackage{a}, NextCursor: samplepkg.ManifestKey(a.Kind, a.Name)},
					activities.ImportCandidatesPage{Packages: []activities.ExportPackage{b}})},
				workflows.FilelockScan, workflows.WatcherScanInput{Environment: Environment, BatchSize: 1, BatchesPerRun: 1})
			if err != nil {
				return nil, err
			}
			if err := e.Client.GetWorkflow(ctx, run.GetID(), "").Get(ctx, nil); err != nil { // follows to the last run
				return nil, err
			}
			return []Recorded{{Output: scan, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: continuedAsNew}}, nil
		}}
}

// scanListingFailedScenario is a scan whose listing is refused: the scan fails, operators notified.
func scanListingFailedScenario(workflow, watcher, procedure string, wf any, listing string) Scenario {
	out := Output{Workflow: workflow, Name: "listing_failed"}
	return Scenario{Name: workflow + "_listing_failed", Outputs: []Output{out},
		About: "the listing is refused (a page limit no run sends): the scan fails, operators notified",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			run, _, err := e.Start(ctx, scanStart(e, procedure, watcher, "listing-failed"),
				Script{listing: fails(refused(activities.ErrInvalidInput, "%s: page limit 0 is not positive", listing)), "NotifyOperators": notified},
				wf, workflows.WatcherScanInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: failed}}, nil
		}}
}
