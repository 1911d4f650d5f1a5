package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/release"
)

// ReleaseDeployInput is what an operator gives to release and deploy tsd-import.
// JSON example: {"version":"v1.4.0-rel","sites":["nsc"],"force":false}.
type ReleaseDeployInput struct {
	// Version is the release tag, vX.Y.Z-rel.
	Version string `json:"version"`
	// Sites limits the deployment to these sites; empty means every configured site.
	Sites []string `json:"sites,omitempty"`
	// Force deploys to the sites even when none of their components changed.
	Force bool `json:"force,omitempty"`
	// DryRun plans the release: every step reports what it would do, nothing is changed.
	DryRun bool `json:"dryRun,omitempty"`
	// TimeLimit bounds the run's steps from the tag to the last site's start, e.g. "4h"
	// (default 6h, at most 24h). When it passes, the step under way is cancelled, a site
	// whose services were stopped is rolled back, and operators are notified.
	TimeLimit string `json:"timeLimit,omitempty"`
	// Environment is the deployment the run belongs to: its OpsflowEnvironment search
	// attribute and its site locks. `opsflow release` sets it; see RunEnvironment.
	Environment string `json:"environment,omitempty"`
}

// SiteOutcome says what happened on one site and why.
type SiteOutcome struct {
	Site       string   `json:"site"`
	Deployed   bool     `json:"deployed"`
	Reason     string   `json:"reason"`
	Changed    []string `json:"changed,omitempty"`
	Previous   string   `json:"previous,omitempty"`
	Current    string   `json:"current,omitempty"`
	RolledBack bool     `json:"rolledBack,omitempty"`
	// Plan and Problems are filled by a dry run.
	Plan     []string `json:"plan,omitempty"`
	Problems []string `json:"problems,omitempty"`
	LeftDown bool     `json:"leftStopped,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// ReleaseDeployResult is the record of a release: the tag, the artifact and each site.
type ReleaseDeployResult struct {
	Version  string              `json:"version"`
	Commit   string              `json:"commit"`
	Artifact activities.Artifact `json:"artifact"`
	Sites    []SiteOutcome       `json:"sites"`
	// DryRun marks a plan: nothing was tagged, uploaded, stopped or extracted.
	DryRun bool `json:"dryRun,omitempty"`
}

// SiteLockChange is the workflow.GetVersion change id of the site lock and the time limit.
// Runs started before it replay and finish as they began, without either.
const SiteLockChange = "site-lock-and-time-limit"

// ReleaseDeployWorkflowID gives each version one workflow id, so the same release is not
// run twice at once and is easy to find.
func ReleaseDeployWorkflowID(version string) string { return "release-" + version }

// Activity handles: method values on nil pointers give the registered activity names.
var (
	releaseActs    *activities.ReleaseActivities
	artifactActs   *activities.ArtifactActivities
	siteFilesActs  *activities.SiteFilesActivities
	supervisorActs *activities.SupervisorActivities
)

// ReleaseDeploy tags the release, exports its artifact and deploys it to each site whose
// components changed, rolling a site back to its previous version when a step after the
// stop fails. A site is deployed by one release at a time (its SiteLock), and the run keeps
// within its time limit: when it passes, a stopped site is rolled back and operators are
// told while the run still has the time to do both.
func ReleaseDeploy(ctx workflow.Context, in ReleaseDeployInput) (*ReleaseDeployResult, error) {
	tr, err := newTracker(ctx, "ReleaseDeploy")
	if err != nil {
		return nil, err
	}
	guarded := workflow.GetVersion(ctx, SiteLockChange, workflow.DefaultVersion, 1) >= 1
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		ProcedureKey.ValueSet("ReleaseDeploy"), VersionKey.ValueSet(in.Version), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	r := &releaseRun{ctx: ctx, fwd: ctx, guarded: guarded, tr: tr, in: in,
		res: &ReleaseDeployResult{Version: in.Version, DryRun: in.DryRun}}
	defer tr.finish()

	if _, err := release.ParseVersion(in.Version); err != nil {
		return nil, r.fail("validate", temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidVersion, nil))
	}
	// Forward steps run on fwd: the run's time limit cancels it. Runs started before the
	// limit existed (guarded false) have none.
	if guarded {
		if r.limit, err = startTimeLimit(ctx, in.TimeLimit); err != nil {
			return nil, r.fail("validate", err)
		}
		r.fwd = r.limit.ctx
	}
	plan, err := r.central()
	if err != nil {
		return nil, err
	}
	for _, t := range plan.Sites {
		tr.step("deploy " + t.Name)
		d := &siteDeploy{ctx: ctx, fwd: r.fwd, limit: r.limit, lock: guarded && !in.DryRun, tr: tr, t: t, in: in,
			commit: r.res.Commit, art: r.res.Artifact, environment: plan.Environment}
		outcome, err := d.run()
		r.res.Sites = append(r.res.Sites, outcome)
		if err != nil {
			return nil, r.siteFailed(t, outcome, err)
		}
	}
	tr.step("done")
	if in.DryRun {
		setOutcome(ctx, OutcomeDryRun)
	} else {
		setOutcome(ctx, OutcomeSucceeded)
	}
	return r.res, nil
}

// releaseRun is one ReleaseDeploy run's state between its steps.
type releaseRun struct {
	ctx     workflow.Context // the run's context
	fwd     workflow.Context // forward steps: cancelled by the time limit or a cancel request
	limit   *timeLimit       // nil for runs started before the time limit
	guarded bool             // the run has the site lock and the time limit (SiteLockChange)
	tr      *tracker
	in      ReleaseDeployInput
	res     *ReleaseDeployResult
}

// step runs a central forward activity; past the time limit its error says so.
func (r *releaseRun) step(name string, opts workflow.ActivityOptions, act any, arg any, out any) error {
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(r.fwd, r.limit.options(r.ctx, opts)), act, arg).Get(r.fwd, out)
	if err != nil && r.limit.reached(r.ctx) {
		return r.limit.error(name, err)
	}
	return err
}

// fail records a failed central step and tells operators; it returns err.
func (r *releaseRun) fail(step string, err error) error {
	r.tr.step("failed: " + step)
	r.tr.p.Error = err.Error()
	setOutcome(r.ctx, OutcomeFailed)
	r.tr.notify(r.ctx, "failed", err)
	return err
}

// central tags the release, plans where it goes (the sites, in the run's environment) and
// exports its artifact.
func (r *releaseRun) central() (activities.ReleasePlan, error) {
	ctx, tr, in := r.ctx, r.tr, r.in
	tr.step("tag")
	var tag activities.TagResult
	if err := r.step("tag", tagOptions, releaseActs.CreateReleaseTag, activities.TagInput{Version: in.Version, DryRun: in.DryRun, Sites: in.Sites}, &tag); err != nil {
		return activities.ReleasePlan{}, r.fail("tag", err)
	}
	r.res.Commit = tag.Commit

	var plan activities.ReleasePlan
	if err := r.step("plan", centralOptions, releaseActs.PlanRelease, in.Sites, &plan); err != nil {
		return activities.ReleasePlan{}, r.fail("plan", err)
	}
	tr.watchStuck(ctx, plan.StuckAfter)
	names := make([]string, 0, len(plan.Sites))
	for _, t := range plan.Sites {
		names = append(names, t.Name)
		tr.site(t.Name, "waiting")
	}
	plan.Environment = RunEnvironment(in.Environment, plan.Environment)
	if err := workflow.UpsertTypedSearchAttributes(ctx, SiteKey.ValueSet(names), EnvironmentKey.ValueSet(plan.Environment)); err != nil {
		return activities.ReleasePlan{}, err
	}

	tr.step("export")
	if err := r.step("export", exportOptions, artifactActs.ExportArtifact,
		activities.ExportInput{Version: in.Version, Commit: tag.Commit, DryRun: in.DryRun}, &r.res.Artifact); err != nil {
		return activities.ReleasePlan{}, r.fail("export", err)
	}
	return plan, nil
}

// siteFailed ends the run after a site's deploy failed: the failure type says what the site
// runs now (the version before, the previous one again, or nothing: services stopped).
func (r *releaseRun) siteFailed(t activities.SiteTarget, outcome SiteOutcome, err error) error {
	r.tr.step("failed: deploy " + t.Name)
	r.tr.p.Error = err.Error()
	errType, state := ErrSiteDeployFailed, OutcomeFailed
	switch {
	case outcome.LeftDown:
		errType, state = ErrSiteLeftDown, OutcomeLeftDown
		workflow.GetLogger(r.ctx).Error("SERVICES LEFT STOPPED: rollback failed; act now", "site", t.Name, "error", err)
	case outcome.RolledBack:
		errType, state = ErrSiteRolledBack, OutcomeRolledBack
	case isType(err, ErrSiteBusy):
		errType = ErrSiteBusy
	case isType(err, ErrTimeLimit):
		errType = ErrTimeLimit
	}
	setOutcome(r.ctx, state)
	failure := temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("release %s failed on site %s: %v", r.in.Version, t.Name, err), errType, err, r.res)
	r.tr.notify(r.ctx, "failed", failure)
	return failure
}
