package workflows

import (
	"fmt"
	"strings"
	"time"

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

// Failure types of a ReleaseDeploy run, for operators and alerting.
const (
	// ErrSiteDeployFailed: a step before the stop failed; the site runs what it ran before.
	ErrSiteDeployFailed = "SiteDeployFailed"
	// ErrSiteRolledBack: a step after the stop failed; the previous version runs again.
	ErrSiteRolledBack = "SiteDeployRolledBack"
	// ErrSiteLeftDown: the rollback failed too; the site's services are stopped.
	ErrSiteLeftDown = "SiteLeftStopped"
)

// ReleaseDeployWorkflowID gives each version one workflow id, so the same release is not
// run twice at once and is easy to find.
func ReleaseDeployWorkflowID(version string) string { return "release-" + version }

// Activity handles: method values on nil pointers give the registered activity names.
var (
	releaseActs  *activities.ReleaseActivities
	artifactActs *activities.ArtifactActivities
	siteActs     *activities.SiteActivities
)

// ReleaseDeploy tags the release, exports its artifact and deploys it to each site whose
// components changed, rolling a site back to its previous version when a step after the
// stop fails.
func ReleaseDeploy(ctx workflow.Context, in ReleaseDeployInput) (*ReleaseDeployResult, error) {
	tr, err := newTracker(ctx, "ReleaseDeploy")
	if err != nil {
		return nil, err
	}
	log := workflow.GetLogger(ctx)
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
		return fail("validate", temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrInvalidVersion, nil))
	}

	tr.step("tag")
	var tag activities.TagResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, tagOptions), releaseActs.CreateReleaseTag,
		activities.TagInput{Version: in.Version, DryRun: in.DryRun}).Get(ctx, &tag); err != nil {
		return fail("tag", err)
	}
	res.Commit = tag.Commit

	var plan activities.ReleasePlan
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, centralOptions), releaseActs.PlanRelease,
		in.Sites).Get(ctx, &plan); err != nil {
		return fail("plan", err)
	}
	tr.watchStuck(ctx, plan.StuckAfter)
	targets := plan.Sites
	names := make([]string, 0, len(targets))
	for _, t := range targets {
		names = append(names, t.Name)
		tr.site(t.Name, "waiting")
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, SiteKey.ValueSet(names), EnvironmentKey.ValueSet(plan.Environment)); err != nil {
		return nil, err
	}

	tr.step("export")
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, exportOptions), artifactActs.ExportArtifact,
		activities.ExportInput{Version: in.Version, Commit: tag.Commit, DryRun: in.DryRun}).Get(ctx, &res.Artifact); err != nil {
		return fail("export", err)
	}

	for _, t := range targets {
		tr.step("deploy " + t.Name)
		outcome, err := deploySite(ctx, tr, t, in, tag.Commit, res.Artifact)
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

// deploySite runs archive → stop → extract → start on the site's own task queue, and rolls
// back on a failure after the stop.
func deploySite(ctx workflow.Context, tr *tracker, t activities.SiteTarget, in ReleaseDeployInput, commit string, art activities.Artifact) (SiteOutcome, error) {
	out := SiteOutcome{Site: t.Name}
	onSite := func(opts workflow.ActivityOptions) workflow.Context {
		opts.TaskQueue = t.TaskQueue
		return workflow.WithActivityOptions(ctx, opts)
	}

	tr.site(t.Name, "check deployed version")
	if err := workflow.ExecuteActivity(onSite(siteQueryOptions), siteActs.DeployedVersion).Get(ctx, &out.Previous); err != nil {
		return out, err
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
		return out, nil
	default:
		var ch activities.ChangeResult
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, centralOptions), releaseActs.ChangedComponents,
			activities.ChangeInput{From: out.Previous, To: commit, Components: t.Components}).Get(ctx, &ch); err != nil {
			return out, err
		}
		out.Changed = ch.Changed
		if len(ch.Changed) == 0 {
			out.Reason = "no component changed since " + out.Previous
			out.Current = out.Previous
			tr.site(t.Name, "skipped: "+out.Reason)
			return out, nil
		}
		out.Reason = "changed: " + strings.Join(ch.Changed, ", ")
		if ch.PreviousUnknown {
			out.Reason = "previous version " + out.Previous + " not in the repository"
		}
	}

	if in.DryRun {
		tr.site(t.Name, "plan")
		var plan activities.SitePlan
		if err := workflow.ExecuteActivity(onSite(siteQueryOptions), siteActs.PlanSiteDeploy,
			activities.SitePlanInput{Version: in.Version, Artifact: art, Services: t.Services}).Get(ctx, &plan); err != nil {
			return out, err
		}
		out.Plan, out.Problems = plan.Actions, plan.Problems
		tr.site(t.Name, fmt.Sprintf("planned: %d actions, %d problems", len(plan.Actions), len(plan.Problems)))
		return out, nil
	}

	tr.site(t.Name, "archive")
	var archived activities.ArchiveResult
	if err := workflow.ExecuteActivity(onSite(archiveOptions), siteActs.ArchiveArtifact, art).Get(ctx, &archived); err != nil {
		return out, err // nothing stopped yet: nothing to roll back
	}

	services := activities.ServicesInput{Services: t.Services}
	var stepErr error
	tr.site(t.Name, "stop")
	stepErr = workflow.ExecuteActivity(onSite(serviceOptions), siteActs.StopServices, services).Get(ctx, nil)
	if stepErr == nil {
		tr.site(t.Name, "extract")
		var ex activities.ExtractResult
		stepErr = workflow.ExecuteActivity(onSite(extractOptions), siteActs.ExtractRelease,
			activities.ExtractInput{Version: in.Version, ArchivePath: archived.Path}).Get(ctx, &ex)
	}
	if stepErr == nil {
		tr.site(t.Name, "start")
		stepErr = workflow.ExecuteActivity(onSite(startOptions), siteActs.StartServices, services).Get(ctx, nil)
	}
	if stepErr == nil {
		out.Deployed = true
		out.Current = in.Version
		tr.site(t.Name, "deployed "+in.Version)
		return out, nil
	}

	// Roll back on a disconnected context: a cancelled run must still restore the site.
	out.Error = stepErr.Error()
	tr.site(t.Name, "rollback to "+out.Previous)
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	opts := rollbackOptions
	opts.TaskQueue = t.TaskQueue
	var rb activities.RollbackResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(rctx, opts), siteActs.RollbackRelease,
		activities.RollbackInput{Previous: out.Previous, Failed: in.Version, Services: t.Services}).Get(rctx, &rb); err != nil {
		out.LeftDown = true
		tr.site(t.Name, "ROLLBACK FAILED: services stopped")
		return out, fmt.Errorf("%w; ROLLBACK FAILED, services %v on %s are STOPPED: %v", stepErr, t.Services, t.Name, err)
	}
	out.RolledBack = true
	out.Current = rb.Current
	tr.site(t.Name, "rolled back to "+rb.Current)
	return out, fmt.Errorf("rolled back to %s: %w", rb.Current, stepErr)
}

// Per-step timeouts and retries. Site steps that wait on a worker use ScheduleToClose, so a
// site whose worker is down fails the run within minutes instead of waiting forever.
var (
	tagOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5},
	}
	centralOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	}
	exportOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute, MaximumAttempts: 3},
	}
	siteQueryOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	}
	archiveOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: time.Hour,
		StartToCloseTimeout:    30 * time.Minute,
		HeartbeatTimeout:       time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5},
	}
	serviceOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: 15 * time.Minute,
		StartToCloseTimeout:    5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 3},
	}
	extractOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: time.Hour,
		StartToCloseTimeout:    30 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 3},
	}
	startOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: 15 * time.Minute,
		StartToCloseTimeout:    5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 2},
	}
	rollbackOptions = workflow.ActivityOptions{
		ScheduleToCloseTimeout: time.Hour,
		StartToCloseTimeout:    10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10},
	}
)
