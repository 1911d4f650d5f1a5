package workflows

import (
	"errors"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

// ellaRun is one EllaDeploy run's state between its steps.
type ellaRun struct {
	ctx workflow.Context
	in  ella.DeployInput
	res *EllaDeployResult
	// broadcasts this run created (downtime, acceptance test), hidden at the end.
	broadcasts []int64
	// what a rollback must undo: ELLA stopped, the symlink switched, the database changed.
	stopped, switched, dbTouched bool
}

// add appends a step's outcome to the result.
func (r *ellaRun) add(s ella.Step) { r.res.Steps = append(r.res.Steps, s) }

// detail sets the last step's detail (what it found).
func (r *ellaRun) detail(d string) { r.res.Steps[len(r.res.Steps)-1].Detail = d }

// skip records a step that had nothing to do.
func (r *ellaRun) skip(name, why string) {
	now := workflow.Now(r.ctx)
	r.add(ella.Step{Name: name, Status: ella.StepSkipped, Detail: why, Started: now, Finished: now})
}

// step runs one activity on r.ctx and records its outcome.
func (r *ellaRun) step(name string, opts workflow.ActivityOptions, act, arg, out any) error {
	return r.stepOn(r.ctx, name, ella.StepFailed, opts, act, arg, out)
}

// stepOn runs one activity on ctx; a failure is recorded with failStatus.
func (r *ellaRun) stepOn(ctx workflow.Context, name, failStatus string, opts workflow.ActivityOptions, act, arg, out any) error {
	s := ella.Step{Name: name, Status: ella.StepOK, Started: workflow.Now(ctx)}
	opts.TaskQueue = r.in.TaskQueue // the ELLA host's worker ("" = the run's task queue)
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), act, arg).Get(ctx, out)
	s.Finished = workflow.Now(ctx)
	if err != nil {
		s.Status, s.Detail = failStatus, errText(err)
	}
	r.add(s)
	return err
}

// mail sends one e-mail as a step; a failure is returned (the planned window must be told
// before anything stops) and callers that go on regardless ignore it: it is a warning then.
func (r *ellaRun) mail(name string, opts workflow.ActivityOptions, in activities.EllaMailInput) error {
	status := ella.StepWarning
	if in.Template == activities.EllaMailPlanned {
		status = ella.StepFailed
	}
	return r.stepOn(r.ctx, name, status, opts, ellaActs.SendEllaMail, in, nil)
}

// warnOnly runs a step whose failure does not change the outcome (recorded as a warning).
func (r *ellaRun) warnOnly(name string, opts workflow.ActivityOptions, act, arg any) {
	_ = r.stepOn(r.ctx, name, ella.StepWarning, opts, act, arg, nil)
}

// errText is an activity failure's own message (without the SDK's wrapping).
func errText(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// refused ends a run that never stopped ELLA.
func (r *ellaRun) refused(cause error) (*EllaDeployResult, error) {
	r.res.Gate.State = ella.GateClosed
	return r.finish(ella.OutcomeRefused, cause)
}

// rollback brings the previous version back: stop ELLA, point the symlink back, restore the
// dump when the database may have changed (migration, configs, or the new version ran), start
// it, then hide this run's broadcasts (the downtime one is active again in the restored
// database) and tell users and testers why. It runs on a disconnected context, so a cancelled
// run still rolls back, and stops at the first failed step: ELLA is left stopped rather than
// started on a half-restored database.
func (r *ellaRun) rollback(outcome, why string, cause error) (*EllaDeployResult, error) {
	if r.res.Gate.State == ella.GateNotOpen || r.res.Gate.State == ella.GateOpen {
		r.res.Gate.State = ella.GateClosed
	}
	ctx, _ := workflow.NewDisconnectedContext(r.ctx)
	programs := activities.EllaProgramsInput{Programs: ella.Programs}
	type undo struct {
		name string
		act  any
		arg  any
	}
	plan := []undo{{"rollback: stop ELLA", ellaActs.StopElla, programs}}
	if r.switched {
		plan = append(plan, undo{"rollback: switch ella.sif back", ellaActs.SwitchEllaImage,
			activities.EllaSwitchInput{Target: r.res.PreviousImage, Expected: ella.LinkTarget(r.in.Image)}})
	}
	if r.dbTouched && r.res.Backup != "" {
		plan = append(plan, undo{"rollback: restore database backup", ellaActs.RestoreEllaDatabase, activities.EllaRestoreInput{Path: r.res.Backup}})
	}
	plan = append(plan, undo{"rollback: start ELLA", ellaActs.StartElla, programs})
	for _, u := range plan {
		if err := r.stepOn(ctx, u.name, ella.StepFailed, ellaRollbackOptions, u.act, u.arg, nil); err != nil {
			left := why + "; the rollback failed at " + strings.TrimPrefix(u.name, "rollback: ") + ": " + errText(err)
			_ = r.stepOn(ctx, "mail users and testers: ELLA is down", ella.StepWarning, ellaMailOptions, ellaActs.SendEllaMail,
				activities.EllaMailInput{Template: activities.EllaMailLeftDown, To: r.everyone(), Version: r.in.Version, Detail: left}, nil)
			return r.finishOn(ctx, ella.OutcomeLeftDown, temporal.NewNonRetryableApplicationError(left, ErrEllaLeftDown, err))
		}
	}
	_ = r.stepOn(ctx, "broadcast rollback", ella.StepWarning, ellaCommandOptions, ellaActs.EllaBroadcast,
		activities.EllaBroadcastInput{Message: ella.RolledBackMessage, Deactivate: r.broadcasts}, nil)
	_ = r.stepOn(ctx, "mail users and testers: rolled back", ella.StepWarning, ellaMailOptions, ellaActs.SendEllaMail,
		activities.EllaMailInput{Template: activities.EllaMailRolledBack, To: r.everyone(), Version: r.in.Version, Detail: why}, nil)
	var err error
	if outcome == ella.OutcomeRolledBack {
		msg := why + "; rolled back to " + r.res.PreviousImage
		if cause != nil {
			msg += ": " + errText(cause)
		}
		err = temporal.NewNonRetryableApplicationError(msg, ErrEllaRolledBack, cause)
	}
	return r.finishOn(ctx, outcome, err)
}

// everyone is users and testers, each once.
func (r *ellaRun) everyone() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range append(append([]string(nil), r.in.Users...), r.in.Testers...) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

func (r *ellaRun) finish(outcome string, err error) (*EllaDeployResult, error) {
	return r.finishOn(r.ctx, outcome, err)
}

// finishOn completes the result and its change record. A failed run's failure has the run's
// type (ErrEllaDeployRefused, ErrEllaRolledBack, ErrEllaLeftDown) with the step's failure as
// its cause (ChecksumMismatch, EllaCommandFailed...) and the result as its details.
func (r *ellaRun) finishOn(ctx workflow.Context, outcome string, err error) (*EllaDeployResult, error) {
	r.res.Outcome = outcome
	r.res.Finished = workflow.Now(ctx)
	r.res.ChangeRecord = ella.ChangeRecord(ella.Record{Input: r.in, PreviousImage: r.res.PreviousImage, Migrated: r.res.Migrated,
		Backup: r.res.Backup, Decision: r.res.Gate.Decision, Deadline: r.res.Gate.Deadline, Outcome: outcome, Steps: r.res.Steps,
		Started: r.res.Started, Finished: r.res.Finished})
	setOutcome(ctx, map[string]string{ella.OutcomeApproved: OutcomeSucceeded, ella.OutcomeRejected: OutcomeRolledBack,
		ella.OutcomeExpired: OutcomeRolledBack, ella.OutcomeRolledBack: OutcomeRolledBack, ella.OutcomeRefused: OutcomeFailed,
		ella.OutcomeLeftDown: OutcomeLeftDown}[outcome])
	if err == nil {
		return r.res, nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && (app.Type() == ErrEllaRolledBack || app.Type() == ErrEllaLeftDown) {
		return nil, temporal.NewNonRetryableApplicationError(app.Message(), app.Type(), errors.Unwrap(app), r.res)
	}
	return nil, temporal.NewNonRetryableApplicationError("ELLA deploy refused, ELLA was not stopped: "+errText(err), ErrEllaDeployRefused, err, r.res)
}
