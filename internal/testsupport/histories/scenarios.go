package histories

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/workflows"
)

// Made-up values of the recorded runs: nothing here names a real sample, person or host.
const (
	// Environment of every recorded run, so a recorded run is never found as a real one.
	Environment = "record"
	// ReleaseVersion is the recorded releases' version; BusyVersion the one refused (SiteBusy).
	ReleaseVersion  = "v1.4.0-rel"
	PreviousVersion = "v1.3.0-rel"
	BusyVersion     = "v1.4.1-rel"
	// Package is the imported sample package: a made-up name (the real ones are sensitive).
	Package = "Demo-wgs000-NA00000"
	// IdentifierKey is a fixed dummy key for the package's keyed hash (the worker's is
	// OPSFLOW_IDENTIFIER_KEY): a real deployment's key never goes into a recorded history.
	IdentifierKey = "opsflow-record-dummy-identifier-key"
)

// PackageID is the recorded package's keyed hash, as FetchPackage computes it.
func PackageID() string {
	h, err := ident.NewHasher([]byte(IdentifierKey), true)
	if err != nil {
		panic(err)
	}
	return h.ID("package", Package)
}

func refused(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}

func ok(results ...any) []Answer {
	a := make([]Answer, len(results))
	for i, r := range results {
		a[i] = Answer{Result: r}
	}
	return a
}

func fails(err error) []Answer { return []Answer{{Err: err}} }

var notified = ok("notified")

const (
	completed = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	failed    = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
)

// Scenarios are every workflow type's recorded runs: at least one that passes and one that fails.
func Scenarios() []Scenario {
	return append([]Scenario{
		releaseScenario("deployed", "deploys nsc (changed) and skips tsd (unchanged), each under its site lock",
			ReleaseDeployInput(false), releaseScript(nil), completed),
		releaseScenario("rolled_back", "nsc's services do not start: rolled back to the previous version, operators notified",
			ReleaseDeployInput(false), releaseScript(func(s Script) {
				s["StartServices"] = fails(refused(activities.ErrServiceStartFailed, "nsc-exporter did not stay running"))
				s["RollbackRelease"] = ok(activities.RollbackResult{Current: PreviousVersion})
				s["NotifyOperators"] = notified
			}), failed),
		releaseScenario("dry_run", "plans nsc, skips tsd; nothing tagged, exported, stopped or extracted",
			ReleaseDeployInput(true), releaseScript(func(s Script) {
				s["ExportArtifact"] = ok(activities.Artifact{Version: ReleaseVersion, Bucket: "opsflow-artifacts",
					Key: artifactKey(ReleaseVersion), Planned: true})
				s["PlanSiteDeploy"] = ok(activities.SitePlan{Actions: []string{"archive " + artifactKey(ReleaseVersion),
					"stop lims-exporter-api, nsc-exporter", "extract " + ReleaseVersion, "start lims-exporter-api, nsc-exporter"}})
			}), completed),
		siteBusyScenario(),
		packageScenario("succeeded", "fetches, verifies and publishes the package (READY last)", false, nil, completed),
		packageScenario("failed", "the package has no manifest (not completely uploaded): refused, operators notified", false, func(s Script) {
			s["FetchPackage"] = fails(refused(activities.ErrManifestMissing,
				"no manifest s3://tsd-import/manifests/samples/%s.json: the package is not (completely) uploaded", Package))
			s["NotifyOperators"] = notified
		}, failed),
		packageScenario("quarantined", "a read's MD5 does not match: the package is quarantined with a report, operators notified", false, func(s Script) {
			s["VerifyPackage"] = fails(refused(activities.ErrChecksumMismatch,
				"package %s: reads/R2.fastq.gz: md5 0123456789abcdef0123456789abcdef, want d41d8cd98f00b204e9800998ecf8427e", Package))
			qdir := "/srv/durable/.quarantine/samples/" + PackageID()
			s["QuarantinePackage"] = ok(activities.QuarantineResult{Dir: qdir, Report: qdir + "/" + activities.QuarantineReportFile})
			s["NotifyOperators"] = notified
		}, failed),
		packageScenario("dry_run", "lists the package, changes nothing", true, nil, completed),
		syncScenario("succeeded", "builds, checks and switches to a new index, asks for a rebuild, cleans up", nil, completed),
		syncScenario("failed", "the count check refuses a shrunk index: the build is dropped, operators notified", func(s Script) {
			s["CheckSyncIndex"] = fails(refused(activities.ErrSyncIndexShrunk,
				"masterdoctorindex holds 60 documents, 39%% fewer than the live 98 (at most 10%% allowed)"))
			s["DropSyncIndex"] = ok(nil)
			s["NotifyOperators"] = notified
		}, failed),
		syncAbortScenario("aborted", "aborted by the abort update during syncData: the build is dropped, the live index keeps serving", false),
		syncAbortScenario("aborted_by_signal", "aborted by the abort signal during syncData", true),
		rollbackScenario("succeeded", "moves the four aliases back to the previous build that served", nil, completed),
		rollbackScenario("refused", "no earlier build that served is left: refused, operators notified", func(s Script) {
			s["PreviousServedBuild"] = fails(refused(activities.ErrNoServedBuild,
				"no build older than masterdoctorindex-20261130100000 served: nothing to roll back to"))
			s["NotifyOperators"] = notified
		}, failed),
	}, append(append(watcherScenarios(), bridgeScenarios()...), ellaScenarios()...)...)
}

// --- ReleaseDeploy and SiteLock

// artifactKey is where the export puts a version's artifact in the bucket.
func artifactKey(version string) string {
	return "tsd-import/" + version + "/tsd-import-" + version + ".tar.gz"
}

// ReleaseDeployInput is the recorded releases' input.
func ReleaseDeployInput(dryRun bool) workflows.ReleaseDeployInput {
	return workflows.ReleaseDeployInput{Version: ReleaseVersion, DryRun: dryRun}
}

// releaseScript answers a release of ReleaseVersion over nsc (changed) and tsd (unchanged);
// change adjusts it.
func releaseScript(change func(Script)) func(e *Env, version string) Script {
	return func(e *Env, version string) Script {
		s := Script{
			"CreateReleaseTag": ok(activities.TagResult{Tag: version, Commit: "c0ffee0", Branch: "master", Created: true}),
			"PlanRelease": ok(activities.ReleasePlan{Environment: Environment, StuckAfter: 30 * time.Minute, Sites: []activities.SiteTarget{
				{Name: "nsc", TaskQueue: e.SiteQueue("nsc"), Components: []string{"nsc-exporter/"}, Services: []string{"lims-exporter-api", "nsc-exporter"}},
				{Name: "tsd", TaskQueue: e.SiteQueue("tsd"), Components: []string{"filelock-exporter/"}, Services: []string{"filelock-exporter-api"}},
			}}),
			"ExportArtifact": ok(activities.Artifact{Version: version, Bucket: "opsflow-artifacts",
				Key: artifactKey(version), SHA256: "5e1f0000000000000000000000000000000000000000000000000000000000ab", Size: 10240}),
			"DeployedVersion":   ok(PreviousVersion),
			"ChangedComponents": ok(activities.ChangeResult{Changed: []string{"nsc-exporter/"}}, activities.ChangeResult{}),
			"ArchiveArtifact":   ok(activities.ArchiveResult{Path: "/srv/nsc/sw/archive/tsd-import-" + version + ".tar.gz"}),
			"StopServices":      ok(activities.ServicesResult{States: map[string]string{"lims-exporter-api": "STOPPED", "nsc-exporter": "STOPPED"}}),
			"ExtractRelease":    ok(activities.ExtractResult{Previous: PreviousVersion, Current: version}),
			"StartServices":     ok(activities.ServicesResult{States: map[string]string{"lims-exporter-api": "RUNNING", "nsc-exporter": "RUNNING"}}),
		}
		if change != nil {
			change(s)
		}
		return s
	}
}

func releaseStart(e *Env, scenario, version string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       e.ID(workflows.ReleaseDeployWorkflowID(version), scenario),
		WorkflowExecutionTimeout: workflows.ReleaseDeployExecutionTimeout(workflows.ReleaseDeployDefaultTimeLimit),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("ReleaseDeploy"),
			workflows.VersionKey.ValueSet(version), workflows.EnvironmentKey.ValueSet(Environment)),
		StaticSummary: "Release & deploy " + version,
	}
}

func releaseScenario(name, about string, in workflows.ReleaseDeployInput, script func(*Env, string) Script, want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "release_deploy", Name: name}
	return Scenario{Name: "release_deploy_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			run, _, err := e.Start(ctx, releaseStart(e, name, in.Version), script(e, in.Version), workflows.ReleaseDeploy, in)
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

// siteBusyScenario: release A holds nsc's lock (its extraction held) while release B reaches
// nsc and is refused (SiteBusy); then A finishes and releases the lock. It records B and
// A's SiteLock child.
func siteBusyScenario() Scenario {
	busy := Output{Workflow: "release_deploy", Name: "site_busy"}
	lock := Output{Workflow: "site_lock", Name: "released"}
	return Scenario{Name: "release_deploy_site_busy", Outputs: []Output{busy, lock},
		About: "release " + BusyVersion + " refused at nsc (SiteBusy) while " + ReleaseVersion +
			" holds nsc's SiteLock; that lock, held and released by its parent, is recorded too",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			holderScript := releaseScript(func(s Script) { s["ExtractRelease"][0].Hold = true })(e, ReleaseVersion)
			holder, held, err := e.Start(ctx, releaseStart(e, "lock_holder", ReleaseVersion), holderScript,
				workflows.ReleaseDeploy, ReleaseDeployInput(false))
			if err != nil {
				return nil, err
			}
			if _, err := held.Wait(ctx); err != nil {
				return nil, err
			}
			lockID := workflows.SiteLockWorkflowID(e.SiteQueue("nsc"))
			desc, err := e.Client.DescribeWorkflowExecution(ctx, lockID, "")
			if err != nil {
				return nil, fmt.Errorf("describe nsc's lock %s: %w", lockID, err)
			}
			if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return nil, fmt.Errorf("nsc's lock %s is %s while its release deploys", lockID, st)
			}
			lockRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()

			in := workflows.ReleaseDeployInput{Version: BusyVersion}
			refusedRun, _, err := e.Start(ctx, releaseStart(e, "site_busy", BusyVersion), releaseScript(func(s Script) {
				s["NotifyOperators"] = notified
			})(e, BusyVersion), workflows.ReleaseDeploy, in)
			if err != nil {
				return nil, err
			}
			err = refusedRun.Get(ctx, nil)
			held.Release()
			if !isType(err, workflows.ErrSiteBusy) {
				return nil, fmt.Errorf("release %s: want a SiteBusy failure, got %v", BusyVersion, err)
			}
			if err := holder.Get(ctx, nil); err != nil {
				return nil, fmt.Errorf("the lock's holder %s: %w", holder.GetID(), err)
			}
			return []Recorded{
				{Output: busy, WorkflowID: refusedRun.GetID(), RunID: refusedRun.GetRunID(), Want: failed},
				{Output: lock, WorkflowID: lockID, RunID: lockRun, Want: completed},
			}, nil
		}}
}

func isType(err error, errType string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == errType
}

// --- PackageImport

func packageScenario(name, about string, dryRun bool, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "package_import", Name: name}
	return Scenario{Name: "package_import_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			id := PackageID()
			staged := activities.FetchResult{PackageID: id, Environment: Environment, StagingDir: "/srv/durable/.staging/" + id,
				Files: []string{Package + ".sample", "reads/R1.fastq.gz", "reads/R2.fastq.gz"}, Bytes: 2048,
				PublishedDir: "/srv/durable/samples/" + Package}
			s := Script{
				"FetchPackage":   ok(staged),
				"VerifyPackage":  ok(activities.VerifyResult{Reads: 2}),
				"PublishPackage": ok(activities.PublishResult{Dir: "/srv/durable/samples/" + Package}),
			}
			if change != nil {
				change(s)
			}
			run, _, err := e.Start(ctx, client.StartWorkflowOptions{
				ID:                       e.ID(workflows.PackageImportWorkflowID(id), name),
				WorkflowExecutionTimeout: 24 * time.Hour,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("PackageImport"),
					workflows.PackageKey.ValueSet(id), workflows.EnvironmentKey.ValueSet(Environment)),
			}, s, workflows.PackageImport, workflows.PackageImportInput{Package: Package, DryRun: dryRun})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

// --- RevalidationSync

func syncScript() Script {
	live := "masterdoctorindex-20261101000000"
	return Script{
		"CreateSyncIndex":     ok(activities.LiveIndexState{Indices: []string{live}, Count: 98}),
		"ClearSyncData":       ok(activities.ClearResult{SyncData: 2}),
		"PublishRevalCommand": ok(nil),
		"IngestConnections":   ok(activities.IngestResult{Messages: 100, Docs: 100, Announced: 100, Attempt: 1, Seconds: 1.5}),
		"ClearGMCQueue": ok(activities.GMCClearResult{Cleared: 3,
			NotBefore: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}),
		"IngestGMC": ok(activities.IngestResult{Messages: 105, Docs: 105, Announced: 105, Created: 5, Stale: 1,
			Attempt: 1, Seconds: 2.5}),
		"CheckSyncIndex": ok(activities.IndexCounts{Total: 105, WithTCS: 100, WithGMC: 105, CurrentConnections: 94,
			Discrepancies: 5, LiveCount: 98}),
		"SwitchRevalAliases": ok(activities.SwitchResult{Previous: []string{live}}),
		"CleanupSyncIndexes": ok(activities.CleanupResult{Deleted: []string{}, Kept: []string{live}}),
	}
}

func syncStart(e *Env, scenario string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       e.ID(workflows.RevalidationSyncWorkflowID(Environment), scenario),
		WorkflowExecutionTimeout: 24 * time.Hour,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("RevalidationSync"),
			workflows.EnvironmentKey.ValueSet(Environment)),
	}
}

func syncScenario(name, about string, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "revalidation_sync", Name: name}
	return Scenario{Name: "revalidation_sync_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			s := syncScript()
			if change != nil {
				change(s)
			}
			run, _, err := e.Start(ctx, syncStart(e, name), s, workflows.RevalidationSync,
				workflows.RevalidationSyncInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

// syncAbortScenario aborts the sync while its TCS ingest runs (held), by the abort update or
// the abort signal.
func syncAbortScenario(name, about string, bySignal bool) Scenario {
	out := Output{Workflow: "revalidation_sync", Name: name}
	return Scenario{Name: "revalidation_sync_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			s := syncScript()
			s["IngestConnections"][0].Hold = true
			s["DropSyncIndex"] = ok(nil)
			run, held, err := e.Start(ctx, syncStart(e, name), s, workflows.RevalidationSync,
				workflows.RevalidationSyncInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			if _, err := held.Wait(ctx); err != nil {
				return nil, err
			}
			reason := "recorded abort: TCS is being maintained"
			if bySignal {
				err = e.Client.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.AbortName, reason)
			} else {
				var h client.WorkflowUpdateHandle
				h, err = e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(),
					UpdateName: workflows.AbortName, Args: []any{reason}, WaitForStage: client.WorkflowUpdateStageCompleted})
				if err == nil {
					var answer string
					err = h.Get(ctx, &answer)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("abort %s: %w", run.GetID(), err)
			}
			var res workflows.RevalidationSyncResult
			if err := run.Get(ctx, &res); err != nil {
				return nil, err
			}
			if res.Outcome != workflows.OutcomeAborted {
				return nil, fmt.Errorf("sync %s ended %q, want %q", run.GetID(), res.Outcome, workflows.OutcomeAborted)
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: completed}}, nil
		}}
}

// --- RevalidationRollback

func rollbackScenario(name, about string, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "revalidation_rollback", Name: name}
	return Scenario{Name: "revalidation_rollback_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			from, to := "masterdoctorindex-20261130100000", "masterdoctorindex-20261101000000"
			s := Script{
				"PreviousServedBuild": ok(activities.RevalRollbackPlan{From: from, To: to, FromCount: 60, ToCount: 98}),
				"RollbackRevalAliases": ok(activities.RevalRollbackResult{From: from, To: to, Count: 98,
					CurrentConnections: 90, Discrepancies: 8}),
			}
			if change != nil {
				change(s)
			}
			run, _, err := e.Start(ctx, client.StartWorkflowOptions{
				ID:                       e.ID(workflows.RevalidationRollbackWorkflowID(Environment), name),
				WorkflowExecutionTimeout: 30 * time.Minute,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("RevalidationRollback"),
					workflows.EnvironmentKey.ValueSet(Environment)),
			}, s, workflows.RevalidationRollback, workflows.RevalidationRollbackInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}
