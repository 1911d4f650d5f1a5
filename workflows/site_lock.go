package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// One deploy per site at a time. A ReleaseDeploy run holds a site while it deploys there by
// running a SiteLock child workflow under the site's fixed id: Temporal runs at most one
// workflow per id, so a second release that reaches the site while the lock runs cannot
// start its own and is refused (SiteBusy) before it reads, stops or extracts anything. The
// lock is a child with the default parent close policy, so a release that ends in any way,
// even terminated, releases its sites: no stale lock to clean up by hand.
//
// Refusing rather than queueing is deliberate: a queued release would later deploy on its
// own, possibly an older version over the newer one that was running, and after a failed
// deploy that someone has yet to look at. The refused release did its tag and export
// (both idempotent) and is started again when the site is free.

// SiteLockWorkflowID is the lock of one site of a deployment. The site's task queue
// (<task-queue>-site-<site>) names it, so deployments sharing a namespace never share a lock.
func SiteLockWorkflowID(siteTaskQueue string) string { return "site-deploy-" + siteTaskQueue }

// SiteLockInput says who holds the lock, for the Web UI and `opsflow progress`.
type SiteLockInput struct {
	Site       string `json:"site"`
	Version    string `json:"version"`
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
}

// SiteLock holds a site for the ReleaseDeploy run that started it, until that run cancels it
// (its deploy of the site ended) or ends.
func SiteLock(ctx workflow.Context, in SiteLockInput) error {
	held := Progress{Procedure: "SiteLock", Step: fmt.Sprintf("site %s held by %s (%s)", in.Site, in.WorkflowID, in.Version),
		UpdatedAt: workflow.Now(ctx)}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return held, nil }); err != nil {
		return err
	}
	err := workflow.Await(ctx, func() bool { return false })
	if temporal.IsCanceledError(err) {
		return nil // released
	}
	return err
}

// acquireSiteLock starts the site's lock for this run, or refuses with SiteBusy when another
// run holds it. The lock lives on a disconnected context: cancelling the release must not
// free the site while its rollback still runs. release frees it and waits until it is free.
func acquireSiteLock(ctx workflow.Context, t activities.SiteTarget, environment, version string) (release func(), err error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	lctx, cancel := workflow.WithCancel(dctx)
	info := workflow.GetInfo(ctx)
	id := SiteLockWorkflowID(t.TaskQueue)
	f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(lctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		WaitForCancellation:   true,
		TypedSearchAttributes: temporal.NewSearchAttributes(ProcedureKey.ValueSet("SiteLock"), SiteKey.ValueSet([]string{t.Name}),
			VersionKey.ValueSet(version), EnvironmentKey.ValueSet(environment)),
		StaticSummary: fmt.Sprintf("Deploy lock of site %s, held by %s", t.Name, info.WorkflowExecution.ID),
	}), SiteLock, SiteLockInput{Site: t.Name, Version: version, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID})
	if err := f.GetChildWorkflowExecution().Get(dctx, nil); err != nil {
		cancel()
		if lockHeld(err) {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"site %s is being deployed by another release: its lock, workflow %s, is running (its parent is that release); "+
					"not deploying %s there at the same time, nothing was stopped. Start this release again when that one has ended",
				t.Name, id, version), ErrSiteBusy, nil)
		}
		return nil, fmt.Errorf("site %s: take the deploy lock %s: %w", t.Name, id, err)
	}
	return func() {
		cancel()
		if err := f.Get(dctx, nil); err != nil && !temporal.IsCanceledError(err) {
			workflow.GetLogger(ctx).Warn("site lock ended with an error", "site", t.Name, "error", err)
		}
	}, nil
}

// lockHeld tells a start refused because the lock's id runs already: the server answers
// ChildWorkflowExecutionAlreadyStartedError, the SDK's test environment the service error.
func lockHeld(err error) bool {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	var svc *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started) || errors.As(err, &svc)
}
