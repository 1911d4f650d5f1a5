package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/workflows"
)

// runRollback starts RevalidationRollback of cfg.Environment, waits for it (it takes
// seconds) and prints which build serves now. It refuses while a sync of the environment
// runs: the sync would move the aliases again at its switch, and its cleanup decides which
// builds are kept.
func runRollback(ctx context.Context, c client.Client, cfg config.Client) error {
	syncID := workflows.RevalidationSyncWorkflowID(cfg.Environment)
	if running, runID, err := isRunning(ctx, c, syncID); err != nil {
		return err
	} else if running {
		return fmt.Errorf("a revalidation sync of %s is running (workflow %s, run %s): not rolling back under it. "+
			"Wait for it to end, or abort it first with `opsflow sync --environment %s --abort REASON`",
			cfg.Environment, syncID, runID, cfg.Environment)
	}
	id := workflows.RevalidationRollbackWorkflowID(cfg.Environment)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 30 * time.Minute,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("RevalidationRollback"),
			workflows.EnvironmentKey.ValueSet(cfg.Environment)),
	}, workflows.RevalidationRollback, workflows.RevalidationRollbackInput{Environment: cfg.Environment})
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return fmt.Errorf("a revalidation rollback of %s is already running (workflow %s, run %s)", cfg.Environment, id, started.RunId)
		}
		return fmt.Errorf("start RevalidationRollback: %w", err)
	}
	printRun(cfg, "RevalidationRollback of "+cfg.Environment, run, false, true)
	var res workflows.RevalidationRollbackResult
	if err := run.Get(ctx, &res); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return fmt.Errorf("rollback of %s refused (%s): %s", cfg.Environment, app.Type(), app.Message())
		}
		return fmt.Errorf("rollback of %s: %w", cfg.Environment, err)
	}
	fmt.Print(rollbackReport(res))
	return nil
}

func rollbackReport(r workflows.RevalidationRollbackResult) string {
	return fmt.Sprintf("rolled back %s: the four aliases moved from %s to %s\n"+
		"  from: %-34s %d documents (kept, not deleted)\n"+
		"  to:   %-34s %d documents\n"+
		"  current_connections: %d  discrepancies: %d\n",
		r.Environment, r.From, r.To, r.From, r.FromCount, r.To, r.Count, r.CurrentConnections, r.Discrepancies)
}

// isRunning says whether the latest run of workflow id is running, and its run id.
func isRunning(ctx context.Context, c client.Client, id string) (bool, string, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("describe %s: %w", id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	return info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, info.GetExecution().GetRunId(), nil
}
