package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// RevalidationRollbackInput names the environment to roll back.
// JSON example: {"environment":"prod"}.
type RevalidationRollbackInput struct {
	Environment string `json:"environment"`
}

// RevalidationRollbackResult says which build served before and after, with the counts
// the aliases show now.
type RevalidationRollbackResult struct {
	Environment string `json:"environment"`
	// From is the build the aliases left; it is kept for inspection, not deleted.
	From      string `json:"from"`
	FromCount int64  `json:"fromCount"`
	// To is the previous build that served, which serves again.
	To                 string `json:"to"`
	Count              int64  `json:"count"`
	CurrentConnections int64  `json:"currentConnections"`
	Discrepancies      int64  `json:"discrepancies"`
	Outcome            string `json:"outcome"`
}

// RevalidationRollbackWorkflowID is fixed per environment, like the sync's: one rollback of
// an environment at a time, and `opsflow find` or the Web UI find it by name.
func RevalidationRollbackWorkflowID(env string) string { return "revalidation-rollback-" + env }

// RevalidationRollback is the one-command way back from a bad revalidation sync: it moves
// masterdoctorindex, current_connections, discrepancies and recommendations (with their
// filters) back to the newest earlier build that served, in one _aliases request, after
// checking that build still exists and holds documents. With none left it is refused, and
// the build serving now keeps serving. The build rolled back from is kept but no longer
// counts as a good build (the next sync's cleanup deletes it). It must not run while a sync
// of the environment runs: `opsflow sync --rollback` refuses then, and the alias move refuses
// if the aliases changed since the rollback looked.
func RevalidationRollback(ctx workflow.Context, in RevalidationRollbackInput) (*RevalidationRollbackResult, error) {
	tr, err := newTracker(ctx, "RevalidationRollback")
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if in.Environment == "" {
		return nil, temporal.NewNonRetryableApplicationError("environment is required (prod, preprod, dev)", ErrInvalidInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("RevalidationRollback"),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	res := &RevalidationRollbackResult{Environment: in.Environment}
	fail := func(step string, err error) (*RevalidationRollbackResult, error) {
		tr.step("failed: " + step)
		tr.p.Error = err.Error()
		res.Outcome = OutcomeFailed
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}
	actx := workflow.WithActivityOptions(ctx, indexOptions)

	tr.step("find the previous build that served")
	var plan activities.RevalRollbackPlan
	if err := workflow.ExecuteActivity(actx, searchActs.PreviousServedBuild,
		activities.RevalRollbackInput{Environment: in.Environment}).Get(ctx, &plan); err != nil {
		return fail("find the previous build that served", err)
	}
	res.From, res.FromCount, res.To = plan.From, plan.FromCount, plan.To
	tr.p.Counts["from"] = plan.FromCount
	tr.p.Counts["to"] = plan.ToCount

	tr.step("move the aliases back")
	var moved activities.RevalRollbackResult
	if err := workflow.ExecuteActivity(actx, searchActs.RollbackRevalAliases,
		activities.RevalRollbackAliasesInput{Environment: in.Environment, From: plan.From, To: plan.To}).Get(ctx, &moved); err != nil {
		return fail("move the aliases back", err)
	}
	res.Count, res.CurrentConnections, res.Discrepancies = moved.Count, moved.CurrentConnections, moved.Discrepancies
	tr.p.Counts["total"] = moved.Count
	tr.p.Counts["currentConnections"] = moved.CurrentConnections
	tr.p.Counts["discrepancies"] = moved.Discrepancies
	tr.step("done")
	res.Outcome = OutcomeSucceeded
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}
