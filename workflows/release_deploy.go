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
	log := workflow.GetLogger(ctx)
	guarded := workflow.GetVersion(ctx, SiteLockChange, workflow.DefaultVersion, 1) >= 1
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		ProcedureKey.ValueSet("ReleaseDeploy"), VersionKey.ValueSet(in.Version), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	res := &ReleaseDeployResult{Version: in.Version, DryRun: in.DryRun}
	defer tr.finish()
	fail := func(step string, err error) (*ReleaseDeployResult, error) {
		tr.step("failed: " + step)
		tr.p.Error = err.Error()
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}

	if _, err := release.ParseVersion(in.Version); err != nil {
		return fail("validate", temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidVersion, nil))
	}
	// Forward steps run on fwd: the run's time limit cancels it. Runs started before the
	// limit existed (guarded false) have none.
	var limit *timeLimit
	fwd := ctx
	if guarded {
		if limit, err = startTimeLimit(ctx, in.TimeLimit); err != nil {
			return fail("validate", err)
		}
		fwd = limit.ctx
	}
	step := func(name string, opts workflow.ActivityOptions, act any, arg any, out any) error {
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(fwd, limit.options(ctx, opts)), act, arg).Get(fwd, out)
		if err != nil && limit.reached(ctx) {
			return limit.error(name, err)
		}
		return err
	}

	tr.step("tag")
	var tag activities.TagResult
	if err := step("tag", tagOptions, releaseActs.CreateReleaseTag, activities.TagInput{Version: in.Version, DryRun: in.DryRun}, &tag); err != nil {
		return fail("tag", err)
	}
	res.Commit = tag.Commit

	var plan activities.ReleasePlan
	if err := step("plan", centralOptions, releaseActs.PlanRelease, in.Sites, &plan); err != nil {
		return fail("plan", err)
	}
	tr.watchStuck(ctx, plan.StuckAfter)
	targets := plan.Sites
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		names = append(names, t.Name)
		tr.site(t.Name, "waiting")
	}
	environment := RunEnvironment(in.Environment, plan.Environment)
	if err := workflow.UpsertTypedSearchAttributes(ctx, SiteKey.ValueSet(names), EnvironmentKey.ValueSet(environment)); err != nil {
		return nil, err
	}

	tr.step("export")
	if err := step("export", exportOptions, artifactActs.ExportArtifact,
		activities.ExportInput{Version: in.Version, Commit: tag.Commit, DryRun: in.DryRun}, &res.Artifact); err != nil {
		return fail("export", err)
	}

	for _, t := range targets {
		tr.step("deploy " + t.Name)
		d := &siteDeploy{ctx: ctx, fwd: fwd, limit: limit, lock: guarded && !in.DryRun, tr: tr, t: t, in: in,
			commit: tag.Commit, art: res.Artifact, environment: environment}
		outcome, err := d.run()
		res.Sites = append(res.Sites, outcome)
		if err != nil {
			tr.step("failed: deploy " + t.Name)
			tr.p.Error = err.Error()
			errType, state := ErrSiteDeployFailed, OutcomeFailed
			switch {
			case outcome.LeftDown:
				errType, state = ErrSiteLeftDown, OutcomeLeftDown
				log.Error("SERVICES LEFT STOPPED: rollback failed; act now", "site", t.Name, "error", err)
			case outcome.RolledBack:
				errType, state = ErrSiteRolledBack, OutcomeRolledBack
			case isType(err, ErrSiteBusy):
				errType = ErrSiteBusy
			case isType(err, ErrTimeLimit):
				errType = ErrTimeLimit
			}
			setOutcome(ctx, state)
			failure := temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("release %s failed on site %s: %v", in.Version, t.Name, err), errType, err, res)
			tr.notify(ctx, "failed", failure)
			return nil, failure
		}
	}
	tr.step("done")
	if in.DryRun {
		setOutcome(ctx, OutcomeDryRun)
	} else {
		setOutcome(ctx, OutcomeSucceeded)
	}
	return res, nil
}
