package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/reval"
)

// The plumbing of a RevalidationSync run (revalidation_sync.go tells the procedure): its
// settings, its state shared by the phases, the abort handlers and the failure path.

// syncSettings are a sync's input with the defaults applied, checked once.
type syncSettings struct {
	maxShrink              float64
	keep                   int
	idle, heartbeat, quiet time.Duration
	timeLimit              time.Duration
}

func syncSettingsOf(in RevalidationSyncInput) (syncSettings, error) {
	s := syncSettings{maxShrink: 0.1, keep: 1}
	if in.MaxShrink != nil {
		s.maxShrink = *in.MaxShrink
	}
	if in.KeepPrevious != nil {
		s.keep = *in.KeepPrevious
	}
	if s.maxShrink < 0 || s.maxShrink > 1 || s.keep < 0 {
		return s, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"maxShrink must be within 0..1 (got %v) and keepPrevious at least 0 (got %d)", s.maxShrink, s.keep), ErrInvalidInput, nil)
	}
	var err error
	if s.idle, err = durationOr(in.IdleTimeout, 15*time.Minute); err != nil {
		return s, err
	}
	if s.heartbeat, err = durationOr(in.HeartbeatTimeout, time.Minute); err != nil {
		return s, err
	}
	if s.quiet, err = durationOr(in.Quiet, 5*time.Second); err != nil {
		return s, err
	}
	if s.timeLimit, err = ParseSyncTimeLimit(in.TimeLimit); err != nil {
		return s, err
	}
	return s, nil
}

func durationOr(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid duration %q", s), ErrInvalidInput, err)
	}
	return d, nil
}

// syncRun is one sync's state, shared by its phases and its abort handlers.
type syncRun struct {
	ctx workflow.Context
	tr  *tracker
	in  RevalidationSyncInput
	set syncSettings
	res *RevalidationSyncResult
	// phaseCtx carries every step before the switch; an abort cancels it.
	phaseCtx    workflow.Context
	cancelPhase workflow.CancelFunc
	// created: the new build exists and does not serve, so a failure drops it.
	created bool
	// switching: the alias switch has started; from then on nothing cancels the run.
	switching bool
	// deadline is when the run's own time limit passes (zero: a run started before the
	// limit existed); limitPassed is set when its timer cancelled the phase under way.
	deadline      time.Time
	limitPassed   bool
	stopTimeLimit func()
}

func newSyncRun(ctx workflow.Context, tr *tracker, in RevalidationSyncInput, set syncSettings) *syncRun {
	r := &syncRun{ctx: ctx, tr: tr, in: in, set: set,
		res: &RevalidationSyncResult{Environment: in.Environment, Index: reval.MasterDoctorIndexName(workflow.Now(ctx))}}
	r.phaseCtx, r.cancelPhase = workflow.WithCancel(ctx)
	r.stopTimeLimit = func() {}
	return r
}

// abort cancels the phase under way; the first reason given is kept. After the time limit
// passed the run fails as timed out, whatever comes next.
func (r *syncRun) abort(reason string) {
	if r.res.AbortReason == "" && !r.limitPassed {
		r.res.AbortReason = reason
		if reason == "" {
			r.res.AbortReason = "aborted by an operator"
		}
	}
	r.cancelPhase()
}

// handleAbort answers the abort update (refused once the switch started) and the abort
// signal (ignored then).
func (r *syncRun) handleAbort() error {
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, AbortName, func(ctx workflow.Context, reason string) (string, error) {
		r.abort(reason)
		return fmt.Sprintf("aborting; %s will be dropped and the live index keeps serving", r.res.Index), nil
	}, workflow.UpdateHandlerOptions{Validator: func(reason string) error {
		if r.switching {
			return errors.New("too late to abort: the alias switch has started")
		}
		return nil
	}}); err != nil {
		return err
	}
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, AbortName)
		for {
			var reason string
			ch.Receive(ctx, &reason)
			if r.switching {
				workflow.GetLogger(ctx).Warn("abort signal ignored: the alias switch has started")
				continue
			}
			r.abort(reason)
		}
	})
	return nil
}

// run executes one step before the switch on the phase context (an abort cancels it).
func (r *syncRun) run(step string, opts workflow.ActivityOptions, act, arg, out any) error {
	r.tr.step(step)
	actx := workflow.WithActivityOptions(r.phaseCtx, opts)
	if arg == nil {
		return workflow.ExecuteActivity(actx, act).Get(r.phaseCtx, out)
	}
	return workflow.ExecuteActivity(actx, act, arg).Get(r.phaseCtx, out)
}

// fail ends a run before (or at) the switch: the unused build is dropped on a disconnected
// context (an aborted run's context is cancelled), and the run ends aborted (an operator
// asked) or failed (operators are notified).
func (r *syncRun) fail(step string, err error) (*RevalidationSyncResult, error) {
	ctx, res := r.ctx, r.res
	// The run ends here: a deadline passing during the drop does not make it a timeout.
	limitPassed := r.limitPassed
	r.stopTimeLimit()
	if r.created {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if derr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, indexOptions), searchActs.DropSyncIndex,
			activities.SyncIndexInput{Index: res.Index}).Get(dctx, nil); derr != nil {
			workflow.GetLogger(ctx).Error("could not drop the unused build", "index", res.Index, "error", derr)
		}
	}
	if limitPassed {
		err = r.timeLimitError(step, err)
	} else if res.AbortReason != "" {
		r.tr.step("aborted during " + step)
		res.Outcome = OutcomeAborted
		setOutcome(ctx, OutcomeAborted)
		return res, nil
	}
	r.tr.step("failed: " + step)
	r.tr.p.Error = err.Error()
	res.Outcome = OutcomeFailed
	setOutcome(ctx, OutcomeFailed)
	r.tr.notify(ctx, "failed", err)
	return nil, err
}

// ingestOptions are the two ingests' options (ingestOptionsFor), their ScheduleToClose
// capped at the time left before the deadline plus a minute: the timer cancels an ingest at
// the deadline, and the server ends it a minute later should its worker be gone.
func (r *syncRun) ingestOptions() workflow.ActivityOptions {
	o := ingestOptionsFor(r.set.heartbeat)
	if r.deadline.IsZero() {
		return o
	}
	left := max(r.deadline.Sub(workflow.Now(r.ctx)), 0) + time.Minute
	if o.ScheduleToCloseTimeout == 0 || o.ScheduleToCloseTimeout > left {
		o.ScheduleToCloseTimeout = left
	}
	return o
}

// The sync's own time limit. The ingests may each take up to 12 h and are retried up to 20
// times, so without a limit of its own a sync would run until the server's execution timeout
// ends it, leaving its new build behind and telling nobody. The run keeps a deadline instead
// (TimeLimit from its start); when it passes before the switch, the phase under way is
// cancelled like an abort, but the run fails (TimeLimitReached), drops its build and notifies
// operators. The starter sets the execution timeout RevalidationSyncWindDown after the limit.
const (
	RevalidationSyncDefaultTimeLimit = 20 * time.Hour
	// RevalidationSyncWindDown is what a run may still need after its deadline: a cancelled
	// ingest stopping (a heartbeat), the drop of its build, the notice (30 min), and margin.
	RevalidationSyncWindDown = 3 * time.Hour
)

// RevalidationSyncExecutionTimeout is the server-side limit a starter sets for a sync with
// this time limit.
func RevalidationSyncExecutionTimeout(timeLimit time.Duration) time.Duration {
	return timeLimit + RevalidationSyncWindDown
}

// ParseSyncTimeLimit reads RevalidationSyncInput.TimeLimit (default
// RevalidationSyncDefaultTimeLimit); the starter and the workflow read it with this one function.
func ParseSyncTimeLimit(spec string) (time.Duration, error) {
	if spec == "" {
		return RevalidationSyncDefaultTimeLimit, nil
	}
	d, err := time.ParseDuration(spec)
	if err != nil || d < time.Minute {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"time limit %q is not a duration of at least 1m (e.g. 20h)", spec), ErrInvalidInput, err)
	}
	return d, nil
}

// startTimeLimit sets the deadline from workflow.Now and starts the timer that cancels the
// phase under way when it passes, unless the switch has started or an operator aborted.
func (r *syncRun) startTimeLimit() {
	r.deadline = workflow.Now(r.ctx).Add(r.set.timeLimit)
	tctx, cancel := workflow.WithCancel(r.ctx)
	r.stopTimeLimit = cancel
	timer := workflow.NewTimer(tctx, r.set.timeLimit)
	workflow.Go(r.ctx, func(ctx workflow.Context) {
		if err := timer.Get(ctx, nil); err != nil || r.switching || r.res.AbortReason != "" {
			return
		}
		r.limitPassed = true
		r.cancelPhase()
	})
}

// timeLimitError is the run's failure when its limit passed during step.
func (r *syncRun) timeLimitError(step string, cause error) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"time limit %s reached during %s (deadline %s): the new build %s was dropped and the live index keeps serving",
		r.set.timeLimit, step, r.deadline.UTC().Format(time.RFC3339), r.res.Index), ErrTimeLimit, notCanceled(cause))
}
