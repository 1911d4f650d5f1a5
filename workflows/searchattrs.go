package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Search attributes that make runs findable in the Web UI and with `temporal workflow list
// --query`. They are Keyword (exact match) attributes, registered by scripts/stack; Text
// attributes would be tokenised and could not be filtered exactly.
var (
	ProcedureKey   = temporal.NewSearchAttributeKeyKeyword("OpsflowProcedure")
	VersionKey     = temporal.NewSearchAttributeKeyKeyword("OpsflowVersion")
	EnvironmentKey = temporal.NewSearchAttributeKeyKeyword("OpsflowEnvironment")
	SiteKey        = temporal.NewSearchAttributeKeyKeywordList("OpsflowSite")
	OutcomeKey     = temporal.NewSearchAttributeKeyKeyword("OpsflowOutcome")
	PackageKey     = temporal.NewSearchAttributeKeyKeyword("OpsflowPackage")
)

// Outcomes recorded in OpsflowOutcome.
const (
	OutcomeRunning    = "running"
	OutcomeSucceeded  = "succeeded"
	OutcomeFailed     = "failed"
	OutcomeRolledBack = "rolled-back"
	OutcomeLeftDown   = "left-stopped"
	OutcomeDryRun     = "dry-run"
	OutcomeAborted    = "aborted"
)

func setOutcome(ctx workflow.Context, outcome string) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, OutcomeKey.ValueSet(outcome)); err != nil {
		workflow.GetLogger(ctx).Error("could not record outcome", "outcome", outcome, "error", err)
	}
}

// RunEnvironment is the one rule for the environment of a run (its OpsflowEnvironment search
// attribute, the environment its steps act for): the environment in the run's input, which
// whoever starts the run decides (`opsflow` from --environment / --env / OPSFLOW_ENVIRONMENT,
// read once, also set as the search attribute at start). A run started without one (a plain
// `temporal workflow start` of ReleaseDeploy or PackageImport) belongs to the deployment of
// the worker that runs it: workerDefault, the worker's OPSFLOW_ENVIRONMENT as its first
// activity reports it. RevalidationSync and RevalidationRollback require it in their input.
func RunEnvironment(input, workerDefault string) string {
	if input != "" {
		return input
	}
	return workerDefault
}
