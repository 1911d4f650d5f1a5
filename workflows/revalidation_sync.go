package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/reval"
)

// AbortName is both the signal and the update that stop a revalidation sync before its
// alias switch. The update answers whether the abort was taken; the signal is for
// callers that cannot wait.
const AbortName = "abort"

// RevalidationSyncInput tunes one sync; only Environment is required.
// JSON example: {"environment":"prod"}.
type RevalidationSyncInput struct {
	Environment string `json:"environment"`
	// MaxShrink is the largest fraction the new index may be smaller than the live one
	// (default 0.1); a bigger drop means missing data and the switch is refused.
	MaxShrink *float64 `json:"maxShrink,omitempty"`
	// KeepPrevious is how many older builds that served are kept for rollback (default 1);
	// builds that never served are deleted by the cleanup.
	KeepPrevious *int `json:"keepPrevious,omitempty"`
	// IdleTimeout is how long a producer may stay silent (Go duration, default "15m").
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// HeartbeatTimeout is how soon a crashed ingest is retried elsewhere (default "1m").
	HeartbeatTimeout string `json:"heartbeatTimeout,omitempty"`
	// Quiet is how long the GMC queue must be silent after its syncEnd (default "5s").
	Quiet string `json:"quiet,omitempty"`
	// TimeLimit is the run's own limit from its start to the alias switch (Go duration,
	// default "20h", at least "1m"). When it passes before the switch, the phase under way is
	// cancelled, the new build is dropped, operators are notified and the run fails with
	// TimeLimitReached; the live index keeps serving. A switch under way is never cut.
	TimeLimit string `json:"timeLimit,omitempty"`
}

// RevalidationSyncResult reports the build, the counts and what was cleaned up.
type RevalidationSyncResult struct {
	Environment   string                  `json:"environment"`
	Index         string                  `json:"index"`
	Previous      []string                `json:"previous"`
	LegacyRemoved bool                    `json:"legacyRemoved,omitempty"`
	Connections   activities.IngestResult `json:"connections"`
	// GMCCleared counts the stale messages (an earlier run's) deleted from the GMC queue
	// before gmcSyncStart.
	GMCCleared  int64                    `json:"gmcCleared,omitempty"`
	GMC         activities.IngestResult  `json:"gmc"`
	Counts      activities.IndexCounts   `json:"counts"`
	Cleanup     activities.CleanupResult `json:"cleanup"`
	Outcome     string                   `json:"outcome"`
	AbortReason string                   `json:"abortReason,omitempty"`
	// Warnings are steps after the switch that failed: the new index serves, but
	// operators should look (e.g. the rebuild command was not published).
	Warnings []string `json:"warnings,omitempty"`
}

// RevalidationSyncWorkflowID is fixed per environment: with Temporal's id conflict
// policy a second sync cannot start while one runs ("do not trigger it twice").
func RevalidationSyncWorkflowID(env string) string { return "revalidation-sync-" + env }

// PurgeGMCQueueChange is the workflow.GetVersion change id of the step that clears the GMC
// queue before gmcSyncStart: runs started before it (DefaultVersion) replay without it.
const PurgeGMCQueueChange = "purge-gmc-queue"

// SyncTimeLimitChange is the workflow.GetVersion change id of the sync's own time limit
// (RevalidationSyncInput.TimeLimit): runs started before it (DefaultVersion) replay and
// finish without it.
const SyncTimeLimitChange = "sync-time-limit"

// Activity handles: method values on nil pointers give the registered activity names.
var (
	searchActs *activities.SearchIndexActivities
	rabbitActs *activities.RabbitActivities
	sqsActs    *activities.SQSActivities
)

// RevalidationSync rebuilds the revalidation master index without downtime: it builds a
// new timestamped index from TCS (RabbitMQ) and GMC (SQS) while the live one keeps
// serving, checks the counts, moves all four aliases in one request, asks downstream
// services to rebuild, and deletes old builds. An abort (signal or update) before the
// switch drops the new build and leaves the live index serving; so does the run's own time
// limit, which also notifies operators and fails the run.
func RevalidationSync(ctx workflow.Context, in RevalidationSyncInput) (*RevalidationSyncResult, error) {
	tr, err := newTracker(ctx, "RevalidationSync")
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if in.Environment == "" {
		return nil, temporal.NewNonRetryableApplicationError("environment is required (prod, preprod, dev)", ErrInvalidInput, nil)
	}
	if err := config.CheckEnvironment(in.Environment); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalidInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("RevalidationSync"),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	set, err := syncSettingsOf(in)
	if err != nil {
		return nil, err
	}
	r := newSyncRun(ctx, tr, in, set)
	if err := r.handleAbort(); err != nil {
		return nil, err
	}
	if workflow.GetVersion(ctx, SyncTimeLimitChange, workflow.DefaultVersion, 1) >= 1 {
		r.startTimeLimit()
	}
	if step, err := r.build(); err != nil {
		return r.fail(step, err)
	}
	return r.switchAndFinish()
}

// build is everything before the switch, on the phase context: create the new build, the
// TCS leg (RabbitMQ), the GMC leg (SQS), and the check. It returns the step that failed.
func (r *syncRun) build() (string, error) {
	var live activities.LiveIndexState
	if err := r.run("create index", indexOptions, searchActs.CreateSyncIndex, activities.SyncIndexInput{Index: r.res.Index}, &live); err != nil {
		return "create index", err
	}
	r.created = true
	r.tr.p.Counts["live"] = live.Count
	if step, err := r.tcsLeg(); err != nil {
		return step, err
	}
	if step, err := r.gmcLeg(); err != nil {
		return step, err
	}
	return r.check()
}

// tcsLeg empties stale syncData, asks TCS for every doctor and ingests its answer.
func (r *syncRun) tcsLeg() (string, error) {
	var cleared activities.ClearResult
	if err := r.run("clear stale syncData", commandOptions, rabbitActs.ClearSyncData, nil, &cleared); err != nil {
		return "clear stale syncData", err
	}
	if err := r.run("syncStart", commandOptions, rabbitActs.PublishRevalCommand,
		activities.CommandInput{RoutingKey: reval.SyncStartKey, Command: reval.SyncStartCommand}, nil); err != nil {
		return "syncStart", err
	}
	r.tr.p.WaitingOn = "TCS syncData (running counts: the ingest activity's heartbeat)"
	if err := r.run("syncData", r.ingestOptions(), rabbitActs.IngestConnections,
		activities.IngestInput{Index: r.res.Index, IdleTimeout: r.set.idle}, &r.res.Connections); err != nil {
		return "syncData", err
	}
	r.tr.p.Counts["connections"] = r.res.Connections.Docs
	r.tr.p.WaitingOn = ""
	return "", nil
}

// gmcLeg clears the GMC queue, asks the recommendation service for the GMC summaries and
// ingests its answer. Nothing an earlier run left on the queue may be read as this run's
// answer: it is cleared, and the ingest drops what SQS accepted before the clear.
func (r *syncRun) gmcLeg() (string, error) {
	queue := reval.GMCSyncQueue(r.in.Environment)
	var notBefore time.Time
	if workflow.GetVersion(r.ctx, PurgeGMCQueueChange, workflow.DefaultVersion, 1) >= 1 {
		var cleared activities.GMCClearResult
		if err := r.run("clear stale GMC messages", clearQueueOptionsFor(r.set.heartbeat), sqsActs.ClearGMCQueue,
			activities.ClearGMCInput{Queue: queue}, &cleared); err != nil {
			return "clear stale GMC messages", err
		}
		r.res.GMCCleared, notBefore = cleared.Cleared, cleared.NotBefore
		r.tr.p.Counts["staleGmcCleared"] = cleared.Cleared
	}
	if err := r.run("gmcSyncStart", commandOptions, rabbitActs.PublishRevalCommand,
		activities.CommandInput{RoutingKey: reval.GMCSyncStartKey, Command: reval.GMCSyncStartCommand}, nil); err != nil {
		return "gmcSyncStart", err
	}
	r.tr.p.WaitingOn = "GMC summaries on SQS " + queue
	if err := r.run("gmcSync", r.ingestOptions(), sqsActs.IngestGMC, activities.IngestInput{Index: r.res.Index, Queue: queue,
		IdleTimeout: r.set.idle, Quiet: r.set.quiet, NotBefore: notBefore}, &r.res.GMC); err != nil {
		return "gmcSync", err
	}
	r.tr.p.Counts["gmc"] = r.res.GMC.Docs
	r.tr.p.Counts["gmcStale"] = r.res.GMC.Stale
	r.tr.p.WaitingOn = ""
	return "", nil
}

// check reconciles the new build's counts with what the producers announced; an abort that
// came during it still stops the run before the switch.
func (r *syncRun) check() (string, error) {
	res := r.res
	in := activities.CheckInput{Index: res.Index, Connections: res.Connections.Announced, GMC: res.GMC.Announced,
		ReceivedConnections: res.Connections.Messages, MaxShrink: r.set.maxShrink}
	if err := r.run("check counts", indexOptions, searchActs.CheckSyncIndex, in, &res.Counts); err != nil {
		return "check counts", err
	}
	r.tr.p.Counts["total"] = res.Counts.Total
	r.tr.p.Counts["currentConnections"] = res.Counts.CurrentConnections
	r.tr.p.Counts["discrepancies"] = res.Counts.Discrepancies
	if res.AbortReason != "" || r.limitPassed {
		return "check counts", temporal.NewCanceledError()
	}
	return "", nil
}

// switchAndFinish moves the aliases to the new build, then asks downstream services to
// rebuild and cleans up old builds. From the switch on the sync cannot be aborted: these
// steps run on the run's own context, and a failure after the switch is a warning.
func (r *syncRun) switchAndFinish() (*RevalidationSyncResult, error) {
	ctx, res := r.ctx, r.res
	r.switching = true
	r.stopTimeLimit() // the switch is never cut by the limit
	r.tr.step("switch aliases")
	var sw activities.SwitchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, indexOptions), searchActs.SwitchRevalAliases,
		activities.SyncIndexInput{Index: res.Index}).Get(ctx, &sw); err != nil {
		return r.fail("switch aliases", err)
	}
	r.created = false // it serves now: never drop it
	res.Previous, res.LegacyRemoved = sw.Previous, sw.LegacyRemoved

	r.tr.step("index rebuild command")
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, commandOptions), rabbitActs.PublishRevalCommand,
		activities.CommandInput{RoutingKey: reval.IndexRebuildKey, Command: reval.GetMasterCommand}).Get(ctx, nil); err != nil {
		res.Warnings = append(res.Warnings, "index rebuild command not published: "+err.Error())
	}
	r.tr.step("clean up")
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, indexOptions), searchActs.CleanupSyncIndexes,
		activities.CleanupInput{Current: res.Index, KeepPrevious: r.set.keep}).Get(ctx, &res.Cleanup); err != nil {
		res.Warnings = append(res.Warnings, "old builds not cleaned up: "+err.Error())
	}
	if len(res.Warnings) > 0 {
		r.tr.notify(ctx, "failed", errors.New(res.Warnings[0]))
	}
	r.tr.step("done")
	res.Outcome = OutcomeSucceeded
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}
