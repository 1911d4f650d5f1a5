package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// siteDeploy is one site of a release: archive → stop → extract → start on the site's own
// task queue, and a rollback on a failure after the stop.
type siteDeploy struct {
	ctx   workflow.Context // the run's context: the lock and the rollback
	fwd   workflow.Context // forward steps: cancelled by the time limit or a cancel request
	limit *timeLimit       // nil for runs started before the time limit
	// lock: take the site's deploy lock first (not in a dry run, nor in runs started before it).
	lock        bool
	tr          *tracker
	t           activities.SiteTarget
	in          ReleaseDeployInput
	commit      string
	art         activities.Artifact
	environment string
}

// step runs a forward activity, on the site's queue unless central; past the time limit its
// error says so.
func (d *siteDeploy) step(name string, opts workflow.ActivityOptions, central bool, act any, out any, args ...any) error {
	if !central {
		opts.TaskQueue = d.t.TaskQueue
	}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(d.fwd, d.limit.options(d.ctx, opts)), act, args...).Get(d.fwd, out)
	if err != nil && d.limit.reached(d.ctx) {
		return d.limit.error(name+" on site "+d.t.Name, err)
	}
	return err
}

// run deploys the site: lock, decide, then plan (dry run) or archive → stop → extract →
// start, rolling back on a failure after the stop.
func (d *siteDeploy) run() (SiteOutcome, error) {
	out := SiteOutcome{Site: d.t.Name}
	if d.limit.reached(d.ctx) {
		return out, d.limit.error("deploy of site "+d.t.Name, nil)
	}
	if d.lock {
		release, err := d.takeLock()
		if err != nil {
			return out, err
		}
		defer release()
	}
	if deploy, err := d.decide(&out); err != nil || !deploy {
		return out, err
	}
	if d.in.DryRun {
		return out, d.plan(&out)
	}
	return out, d.deploy(&out)
}

// takeLock holds the site for this run (SiteLock), or says why it cannot.
func (d *siteDeploy) takeLock() (release func(), err error) {
	d.tr.site(d.t.Name, "take the deploy lock")
	release, err = acquireSiteLock(d.ctx, d.t, d.environment, d.in.Version)
	if err != nil {
		state := "refused: another release is deploying this site"
		if !isType(err, ErrSiteBusy) {
			state = "failed to take the deploy lock"
		}
		d.tr.site(d.t.Name, state)
	}
	return release, err
}

// decide reads the version the site runs and whether the release changes it: forced, a
// first deployment, or one of the site's components changed since.
func (d *siteDeploy) decide(out *SiteOutcome) (deploy bool, err error) {
	tr, t, in := d.tr, d.t, d.in
	tr.site(t.Name, "check deployed version")
	if err := d.step("check deployed version", siteQueryOptions, false, siteFilesActs.DeployedVersion, &out.Previous); err != nil {
		return false, err
	}
	switch {
	case in.Force:
		out.Reason = "forced"
	case out.Previous == "":
		out.Reason = "first deployment"
	case out.Previous == in.Version:
		out.Reason = "already running " + in.Version
		out.Current = out.Previous
		tr.site(t.Name, "skipped: "+out.Reason)
		return false, nil
	default:
		var ch activities.ChangeResult
		if err := d.step("compare components", centralOptions, true, releaseActs.ChangedComponents, &ch,
			activities.ChangeInput{From: out.Previous, To: d.commit, Components: t.Components}); err != nil {
			return false, err
		}
		out.Changed = ch.Changed
		if len(ch.Changed) == 0 {
			out.Reason = "no component changed since " + out.Previous
			out.Current = out.Previous
			tr.site(t.Name, "skipped: "+out.Reason)
			return false, nil
		}
		out.Reason = "changed: " + strings.Join(ch.Changed, ", ")
		if ch.PreviousUnknown {
			out.Reason = "previous version " + out.Previous + " not in the repository"
		}
	}
	return true, nil
}

// plan asks the site what the deploy would do there (a dry run), touching nothing.
func (d *siteDeploy) plan(out *SiteOutcome) error {
	d.tr.site(d.t.Name, "plan")
	var plan activities.SitePlan
	if err := d.step("plan", siteQueryOptions, false, siteFilesActs.PlanSiteDeploy, &plan,
		activities.SitePlanInput{Version: d.in.Version, Artifact: d.art, Services: d.t.Services}); err != nil {
		return err
	}
	out.Plan, out.Problems = plan.Actions, plan.Problems
	d.tr.site(d.t.Name, fmt.Sprintf("planned: %d actions, %d problems", len(plan.Actions), len(plan.Problems)))
	return nil
}

// deploy archives the artifact, stops the services, extracts and switches, and starts them;
// a failure after the stop rolls the site back.
func (d *siteDeploy) deploy(out *SiteOutcome) error {
	ctx, tr, t, in := d.ctx, d.tr, d.t, d.in
	tr.site(t.Name, "archive")
	var archived activities.ArchiveResult
	if err := d.step("archive", archiveOptions, false, siteFilesActs.ArchiveArtifact, &archived, d.art); err != nil {
		return err // nothing stopped yet: nothing to roll back
	}

	run := workflow.GetInfo(ctx).WorkflowExecution.RunID
	services := activities.ServicesInput{Services: t.Services, Run: run}
	var stepErr error
	tr.site(t.Name, "stop")
	stepErr = d.step("stop", serviceOptions, false, supervisorActs.StopServices, nil, services)
	if stepErr == nil {
		tr.site(t.Name, "extract")
		var ex activities.ExtractResult
		stepErr = d.step("extract", extractOptions, false, siteFilesActs.ExtractRelease, &ex, activities.ExtractInput{
			Version: in.Version, ArchivePath: archived.Path, Run: run, KeepUntil: runEnd(ctx, d.limit)})
	}
	if stepErr == nil {
		tr.site(t.Name, "start")
		stepErr = d.step("start", startOptions, false, supervisorActs.StartServices, nil, services)
	}
	if stepErr == nil {
		out.Deployed = true
		out.Current = in.Version
		tr.site(t.Name, "deployed "+in.Version)
		return nil
	}
	return d.rollback(out, run, stepErr)
}

// rollback switches the site back to the version it ran and starts it again. It runs on a
// disconnected context: a cancelled run, or one past its time limit, must still restore the site.
func (d *siteDeploy) rollback(out *SiteOutcome, run string, stepErr error) error {
	tr, t := d.tr, d.t
	out.Error = stepErr.Error()
	tr.site(t.Name, "rollback to "+out.Previous)
	rctx, _ := workflow.NewDisconnectedContext(d.ctx)
	opts := rollbackOptions
	opts.TaskQueue = t.TaskQueue
	var rb activities.RollbackResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(rctx, opts), siteFilesActs.RollbackRelease,
		activities.RollbackInput{Previous: out.Previous, Failed: d.in.Version, Services: t.Services, Run: run}).Get(rctx, &rb); err != nil {
		out.LeftDown = true
		tr.site(t.Name, "ROLLBACK FAILED: services stopped")
		return fmt.Errorf("%w; ROLLBACK FAILED, services %v on %s are STOPPED: %v", stepErr, t.Services, t.Name, err)
	}
	out.RolledBack = true
	out.Current = rb.Current
	tr.site(t.Name, "rolled back to "+rb.Current)
	return fmt.Errorf("rolled back to %s: %w", rb.Current, stepErr)
}

func isType(err error, errType string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == errType
}

// runEnd is when the run can no longer roll back: the server's end of it when set, else its
// deadline plus the wind-down; zero when neither is known (the site then pins for a day).
func runEnd(ctx workflow.Context, limit *timeLimit) time.Time {
	if end := serverEnd(ctx); !end.IsZero() {
		return end
	}
	if limit != nil {
		return limit.deadline.Add(ReleaseDeployWindDown)
	}
	return time.Time{}
}
