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
}

func newSyncRun(ctx workflow.Context, tr *tracker, in RevalidationSyncInput, set syncSettings) *syncRun {
	r := &syncRun{ctx: ctx, tr: tr, in: in, set: set,
		res: &RevalidationSyncResult{Environment: in.Environment, Index: reval.MasterDoctorIndexName(workflow.Now(ctx))}}
	r.phaseCtx, r.cancelPhase = workflow.WithCancel(ctx)
	return r
}

// abort cancels the phase under way; the first reason given is kept.
func (r *syncRun) abort(reason string) {
	if r.res.AbortReason == "" {
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
	if r.created {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if derr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, indexOptions), searchActs.DropSyncIndex,
			activities.SyncIndexInput{Index: res.Index}).Get(dctx, nil); derr != nil {
			workflow.GetLogger(ctx).Error("could not drop the unused build", "index", res.Index, "error", derr)
		}
	}
	if res.AbortReason != "" {
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

// ingestOptions are the two ingests' options (ingestOptionsFor).
func (r *syncRun) ingestOptions() workflow.ActivityOptions {
	return ingestOptionsFor(r.set.heartbeat)
}
