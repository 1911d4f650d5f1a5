package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Time budget of a release. The run keeps its own deadline (TimeLimit from its first
// workflow task) and, when it passes, cancels the step under way, rolls back a stopped site
// and notifies operators; the server's execution timeout, which ends a run without running
// any of its code, is set well after that deadline plus the rollback and the notice.
const (
	ReleaseDeployDefaultTimeLimit = 6 * time.Hour
	ReleaseDeployMaxTimeLimit     = 24 * time.Hour
	// ReleaseDeployWindDown is what a run needs after its deadline: a rollback (rollbackOptions,
	// 1 h), the notice (notifyOptions, 30 min) and releasing the site lock.
	ReleaseDeployWindDown = time.Hour + 30*time.Minute + 15*time.Minute
)

// ReleaseDeployExecutionTimeout is the server-side limit a starter sets for a run with this
// time limit: the limit, the wind-down and an hour more.
func ReleaseDeployExecutionTimeout(timeLimit time.Duration) time.Duration {
	return timeLimit + ReleaseDeployWindDown + time.Hour
}

// timeLimit is a run's own deadline. ctx (the forward steps' context) is cancelled when it
// passes; a nil *timeLimit (a run started before the limit existed) changes nothing.
type timeLimit struct {
	limit    time.Duration
	deadline time.Time
	// earlier: the deadline was brought forward to leave the wind-down before the server's limit.
	earlier bool
	passed  bool
	ctx     workflow.Context
}

// startTimeLimit parses the input's limit (default ReleaseDeployDefaultTimeLimit), derives the
// deadline from workflow.Now, brings it forward when the run's execution or run timeout would
// leave less than ReleaseDeployWindDown after it, and starts the timer that cancels the
// forward steps.
func startTimeLimit(ctx workflow.Context, spec string) (*timeLimit, error) {
	limit := ReleaseDeployDefaultTimeLimit
	if spec != "" {
		d, err := time.ParseDuration(spec)
		if err != nil || d < time.Minute || d > ReleaseDeployMaxTimeLimit {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"time limit %q is not a duration between 1m and %s (e.g. 4h)", spec, ReleaseDeployMaxTimeLimit), ErrInvalidInput, nil)
		}
		limit = d
	}
	now := workflow.Now(ctx)
	tl := &timeLimit{limit: limit, deadline: now.Add(limit)}
	if end := serverEnd(ctx); !end.IsZero() && end.Add(-ReleaseDeployWindDown).Before(tl.deadline) {
		tl.deadline, tl.earlier = end.Add(-ReleaseDeployWindDown), true
	}
	fwd, cancel := workflow.WithCancel(ctx)
	tl.ctx = fwd
	left := tl.deadline.Sub(now)
	if left <= 0 {
		tl.passed = true
		cancel()
		return tl, nil
	}
	timer := workflow.NewTimer(fwd, left)
	workflow.Go(ctx, func(gctx workflow.Context) {
		if err := timer.Get(gctx, nil); err == nil {
			tl.passed = true
			cancel()
		}
	})
	return tl, nil
}

// serverEnd is when the server ends the run whatever it is doing (its execution or run
// timeout), or zero when it has none.
func serverEnd(ctx workflow.Context) time.Time {
	info := workflow.GetInfo(ctx)
	var timeout time.Duration
	for _, d := range []time.Duration{info.WorkflowExecutionTimeout, info.WorkflowRunTimeout} {
		if d > 0 && (timeout == 0 || d < timeout) {
			timeout = d
		}
	}
	if timeout == 0 || info.WorkflowStartTime.IsZero() {
		return time.Time{}
	}
	return info.WorkflowStartTime.Add(timeout)
}

// reached says whether the deadline has passed (the timer fired, or the clock is past it).
func (tl *timeLimit) reached(ctx workflow.Context) bool {
	return tl != nil && (tl.passed || !workflow.Now(ctx).Before(tl.deadline))
}

// options bounds a forward step by the deadline: the timer cancels it then, and the server
// ends it a minute later should its worker be gone. The run waits for a cancelled step to
// end, so a rollback never runs beside it.
func (tl *timeLimit) options(ctx workflow.Context, o workflow.ActivityOptions) workflow.ActivityOptions {
	if tl == nil {
		return o
	}
	left := tl.deadline.Sub(workflow.Now(ctx)) + time.Minute
	if left < time.Minute {
		left = time.Minute
	}
	if o.ScheduleToCloseTimeout == 0 || o.ScheduleToCloseTimeout > left {
		o.ScheduleToCloseTimeout = left
	}
	o.WaitForCancellation = true
	return o
}

func (tl *timeLimit) error(during string, cause error) error {
	why := ""
	if tl.earlier {
		why = ", brought forward to leave time for a rollback before the run's execution timeout"
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("time limit %s reached during %s (deadline %s%s)",
		tl.limit, during, tl.deadline.UTC().Format(time.RFC3339), why), ErrTimeLimit, notCanceled(cause))
}
