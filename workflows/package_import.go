package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// PackageImportInput names the sample package to import from the S3 import bucket.
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

// PackageImport copies a sample package into the durable area, verifies every read's MD5
// and size against the package's .sample file, and publishes it with READY written last.
// A package that fails verification is discarded from staging and never marked READY.
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
	act := activities.ImportInput{Package: in.Package, DryRun: in.DryRun}

	tr.step("fetch")
	var staged activities.FetchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, fetchOptions), importActs.FetchPackage, act).Get(ctx, &staged); err != nil {
		return fail("fetch", err)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, PackageKey.ValueSet(staged.PackageID), EnvironmentKey.ValueSet(RunEnvironment(in.Environment, staged.Environment))); err != nil {
		return nil, err
	}
	tr.p.Counts["files"], tr.p.Counts["bytes"] = int64(len(staged.Files)), staged.Bytes
	res := &PackageImportResult{PackageID: staged.PackageID, Files: len(staged.Files), Bytes: staged.Bytes, DryRun: in.DryRun}
	if in.DryRun {
		res.Plan = []string{
			fmt.Sprintf("copy %d files (%d bytes) of %s into %s", len(staged.Files), staged.Bytes, in.Package, staged.StagingDir),
			"verify the MD5 and size of every read listed in " + samplepkg.SampleFileName(in.Package),
			fmt.Sprintf("move to samples/%s, then write %s", in.Package, samplepkg.ReadyMarker),
		}
		tr.step("done")
		setOutcome(ctx, OutcomeDryRun)
		return res, nil
	}

	tr.step("verify")
	var verified activities.VerifyResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, verifyOptions), importActs.VerifyPackage, act, staged).Get(ctx, &verified); err != nil {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if derr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, publishOptions), importActs.DiscardStaging, staged).Get(dctx, nil); derr != nil {
			workflow.GetLogger(ctx).Error("could not discard the staged package", "error", derr)
		}
		return fail("verify", err)
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
