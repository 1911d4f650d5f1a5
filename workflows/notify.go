package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

var notifyActs *activities.NotifyActivities

// notify tells operators once per kind ("failed", "stuck") that this run needs a person. It
// runs on a disconnected context so a cancelled run still reports, and a notification that
// cannot be delivered is logged, never fails the run.
func (t *tracker) notify(ctx workflow.Context, kind string, cause error) {
	if t.notified[kind] {
		return
	}
	t.notified[kind] = true
	info := workflow.GetInfo(ctx)
	n := activities.Notice{Kind: kind, Procedure: t.p.Procedure, WorkflowID: info.WorkflowExecution.ID,
		RunID: info.WorkflowExecution.RunID, Step: t.p.Step}
	var app *temporal.ApplicationError
	if errors.As(cause, &app) {
		n.ErrorType = app.Type()
	}
	if kind == "stuck" {
		n.Since = workflow.Now(ctx).Sub(t.p.UpdatedAt).String()
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, notifyOptions), notifyActs.NotifyOperators, n).Get(dctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not notify operators", "kind", kind, "error", err)
	}
}

// watchStuck notifies once when a whole stuckAfter interval passes without progress (0
// disables). One timer per interval keeps the history small; a stuck run is noticed between
// one and two intervals after its last step.
func (t *tracker) watchStuck(ctx workflow.Context, stuckAfter time.Duration) {
	if stuckAfter <= 0 {
		return
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		for !t.done {
			seen := t.changes
			if err := workflow.Sleep(ctx, stuckAfter); err != nil || t.done {
				return
			}
			if t.changes == seen {
				t.p.WaitingOn = "no progress for " + stuckAfter.String() + " or more; operators notified"
				t.notify(ctx, "stuck", nil)
				return
			}
		}
	})
}

// finish marks the run ended, so the watchdog stops.
func (t *tracker) finish() { t.done = true }
