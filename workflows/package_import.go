package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// PackageImportInput names the package to import from the S3 endpoint (import bucket).
// JSON example: {"package":"Diag-wgs123-NA12878"}. The name is sensitive: it travels only
// in encrypted payloads; ids and search attributes carry its keyed hash.
type PackageImportInput struct {
	Package string `json:"package"`
	// Kind is what the package holds; "" is samplepkg.KindSample.
	Kind   samplepkg.Kind `json:"kind,omitempty"`
	DryRun bool           `json:"dryRun,omitempty"`
	// Environment is the deployment the run belongs to (its OpsflowEnvironment search
	// attribute). `opsflow import` sets it; see RunEnvironment.
	Environment string `json:"environment,omitempty"`
}

// PackageImportResult says what was imported, or planned in a dry run.
type PackageImportResult struct {
	PackageID string   `json:"packageId"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
	Reads     int      `json:"reads"`
	Dir       string   `json:"dir,omitempty"`
	DryRun    bool     `json:"dryRun,omitempty"`
	Plan      []string `json:"plan,omitempty"`
}

// PackageImportWorkflowID is the run's id: the package's keyed hash, never its name, so one
// package is imported once at a time and its name does not show in lists.
func PackageImportWorkflowID(packageID string) string { return "import-" + packageID }

var importActs *activities.ImportActivities

// quarantineVersion is the GetVersion change that quarantines a package refused by its checks
// instead of discarding it (DefaultVersion: the run discards, as recorded before it).
const quarantineVersion = "quarantine-on-mismatch"

// quarantined tells the refusals that quarantine the package: its content is not what its
// manifest (or .sample/.analysis) says, which no retry and no later scan changes.
func quarantined(err error) bool {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return false
	}
	switch app.Type() {
	case activities.ErrManifestMismatch, activities.ErrChecksumMismatch, activities.ErrMalformedPackage, activities.ErrUnsafeObjectKey:
		return true
	}
	return false
}

// PackageImport copies a package into the durable area once its manifest is uploaded,
// verifies every file against the manifest (and a sample's reads against its .sample file),
// and publishes it with READY written last (for the kinds the automation waits on). A package
// whose content is refused is quarantined with a report (QuarantinePackage), so later scans
// skip it, and the run fails naming the quarantine; operators are notified. It is never READY.
func PackageImport(ctx workflow.Context, in PackageImportInput) (*PackageImportResult, error) {
	tr, err := newTracker(ctx, "PackageImport")
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("PackageImport"), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	fail := func(step string, err error) (*PackageImportResult, error) {
		tr.step("failed: " + step)
		tr.p.Error = err.Error()
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}
	act := activities.ImportInput{Package: in.Package, Kind: in.Kind, DryRun: in.DryRun}
	// refuse quarantines a package whose checks failed (from version 1), then fails the run
	// with the refusal's type and a message naming the quarantine. A quarantine that fails
	// leaves the staged copy for the next attempt, and the run fails with the refusal.
	refuse := func(step string, staged activities.FetchResult, cause error) (*PackageImportResult, error) {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if in.DryRun || !quarantined(cause) || workflow.GetVersion(ctx, quarantineVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			if staged.StagingDir != "" {
				if derr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, publishOptions), importActs.DiscardStaging, staged).Get(dctx, nil); derr != nil {
					workflow.GetLogger(ctx).Error("could not discard the staged package", "error", derr)
				}
			}
			return fail(step, cause)
		}
		tr.step("quarantine")
		var app *temporal.ApplicationError
		errors.As(cause, &app) // quarantined(cause) holds
		var q activities.QuarantineResult
		qin := activities.QuarantineInput{Package: act, Staged: staged, Reason: app.Type() + ": " + app.Message()}
		if qerr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, publishOptions), importActs.QuarantinePackage, qin).Get(dctx, &q); qerr != nil {
			workflow.GetLogger(ctx).Error("could not quarantine the refused package", "error", qerr)
			return fail(step, cause)
		}
		return fail(step, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("package quarantined in %s (report %s): %s", q.Dir, q.Report, app.Message()), app.Type(), cause))
	}

	tr.step("fetch")
	var staged activities.FetchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, fetchOptions), importActs.FetchPackage, act).Get(ctx, &staged); err != nil {
		if quarantined(err) {
			return refuse("fetch", activities.FetchResult{}, err)
		}
		return fail("fetch", err)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, PackageKey.ValueSet(staged.PackageID), EnvironmentKey.ValueSet(RunEnvironment(in.Environment, staged.Environment))); err != nil {
		return nil, err
	}
	tr.p.Counts["files"], tr.p.Counts["bytes"] = int64(len(staged.Files)), staged.Bytes
	res := &PackageImportResult{PackageID: staged.PackageID, Files: len(staged.Files), Bytes: staged.Bytes, DryRun: in.DryRun}
	if in.DryRun {
		res.Plan = dryRunPlan(in, staged)
		tr.step("done")
		setOutcome(ctx, OutcomeDryRun)
		return res, nil
	}

	tr.step("verify")
	var verified activities.VerifyResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, verifyOptions), importActs.VerifyPackage, act, staged).Get(ctx, &verified); err != nil {
		return refuse("verify", staged, err)
	}
	res.Reads = verified.Reads
	tr.p.Counts["reads"] = int64(verified.Reads)

	tr.step("publish")
	var published activities.PublishResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, publishOptions), importActs.PublishPackage, act, staged).Get(ctx, &published); err != nil {
		return fail("publish", err)
	}
	res.Dir = published.Dir
	tr.step("done")
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}

// dryRunPlan says what an import would do: the copy, the checks, and where the package goes.
func dryRunPlan(in PackageImportInput, staged activities.FetchResult) []string {
	kind := in.Kind
	if kind == "" {
		kind = samplepkg.KindSample
	}
	dest := staged.PublishedDir
	if dest == "" {
		dest = string(kind) + "/" + in.Package
	}
	verify := fmt.Sprintf("verify the size and SHA-256 of every file against %s", samplepkg.ManifestKey(kind, in.Package))
	if desc := kind.DescriptionFile(in.Package); kind == samplepkg.KindSample {
		verify += ", and the MD5 and size of every read listed in " + desc
	} else if desc != "" {
		verify += ", and that " + desc + " names the package"
	}
	publish := fmt.Sprintf("move to %s, then write %s", dest, samplepkg.ReadyMarker)
	if !kind.MarksReady() {
		publish = fmt.Sprintf("move to %s (no %s: the automation does not wait for %s)", dest, samplepkg.ReadyMarker, kind)
	}
	return []string{
		fmt.Sprintf("copy %d files (%d bytes) of %s %s into %s", len(staged.Files), staged.Bytes, kind, in.Package, staged.StagingDir),
		verify,
		publish,
	}
}
