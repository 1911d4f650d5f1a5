package main

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/internal/config"
)

// startOrJoin starts a workflow, or finds the run already in flight under the same id. By
// default the SDK hands back the running run as if it had just been started; here the
// server's refusal is asked for, so the caller can say which it was. A closed run's id is
// reused as opts.WorkflowIDReusePolicy allows (a release started again after it completed
// starts a new, idempotent run).
func startOrJoin(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, bool, error) {
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	run, err := c.ExecuteWorkflow(ctx, opts, workflow, args...)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return c.GetWorkflow(ctx, opts.ID, started.RunId), true, nil
	}
	return run, false, err
}

// printRun says whether the run was started now or was already running, with its ids and
// Web UI link.
func printRun(cfg config.Config, what string, run client.WorkflowRun, already, wait bool) {
	switch {
	case !already:
		fmt.Printf("started %s\n", what)
	case wait:
		fmt.Printf("%s is already running; not starting another, following it\n", what)
	default:
		fmt.Printf("%s is already running; not starting another (add --wait to follow it)\n", what)
	}
	fmt.Printf("  workflow id: %s\n  run id:      %s\n  web UI:      %s\n",
		run.GetID(), run.GetRunID(), cfg.WorkflowURL(run.GetID(), run.GetRunID()))
}
