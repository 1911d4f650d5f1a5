package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/esclient"
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

// GMCSyncQueue is the SQS queue the recommendation service answers gmcSyncStart on.
func GMCSyncQueue(env string) string { return "tis-revalidation-sync-gmc-queue-" + env }

// PurgeGMCQueueChange is the workflow.GetVersion change id of the step that clears the GMC
// queue before gmcSyncStart: runs started before it (DefaultVersion) replay without it.
const PurgeGMCQueueChange = "purge-gmc-queue"

var (
	searchActs *activities.SearchIndexActivities
	rabbitActs *activities.RabbitActivities
	ingestActs *activities.SyncIngestActivities
)

func durationOr(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf("invalid duration %q", s), "InvalidInput", err)
	}
	return d, nil
}

// RevalidationSync rebuilds the revalidation master index without downtime: it builds a
// new timestamped index from TCS (RabbitMQ) and GMC (SQS) while the live one keeps
// serving, checks the counts, moves all four aliases in one request, asks downstream
// services to rebuild, and deletes old builds. An abort (signal or update) before the
// switch drops the new build and leaves the live index serving.
func RevalidationSync(ctx workflow.Context, in RevalidationSyncInput) (*RevalidationSyncResult, error) {
	tr, err := newTracker(ctx, "RevalidationSync")
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if in.Environment == "" {
		return nil, temporal.NewNonRetryableApplicationError("environment is required (prod, preprod, dev)", "InvalidInput", nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("RevalidationSync"),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	maxShrink, keep := 0.1, 1
	if in.MaxShrink != nil {
		maxShrink = *in.MaxShrink
	}
	if in.KeepPrevious != nil {
		keep = *in.KeepPrevious
	}
	if maxShrink < 0 || maxShrink > 1 || keep < 0 {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("maxShrink must be within 0..1 (got %v) and keepPrevious at least 0 (got %d)", maxShrink, keep), "InvalidInput", nil)
	}
	idle, err := durationOr(in.IdleTimeout, 15*time.Minute)
	if err != nil {
		return nil, err
	}
	heartbeat, err := durationOr(in.HeartbeatTimeout, time.Minute)
	if err != nil {
		return nil, err
	}
	quiet, err := durationOr(in.Quiet, 5*time.Second)
	if err != nil {
		return nil, err
	}
	ingestOptions := ingestOptionsFor(heartbeat)

	res := &RevalidationSyncResult{Environment: in.Environment, Index: esclient.MasterDoctorIndexName(workflow.Now(ctx))}
	phaseCtx, cancelPhase := workflow.WithCancel(ctx)
	switching := false
	abort := func(reason string) {
		if res.AbortReason == "" {
			res.AbortReason = reason
			if reason == "" {
				res.AbortReason = "aborted by an operator"
			}
		}
		cancelPhase()
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, AbortName, func(ctx workflow.Context, reason string) (string, error) {
		abort(reason)
		return fmt.Sprintf("aborting; %s will be dropped and the live index keeps serving", res.Index), nil
	}, workflow.UpdateHandlerOptions{Validator: func(reason string) error {
		if switching {
			return errors.New("too late to abort: the alias switch has started")
		}
		return nil
	}}); err != nil {
		return nil, err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, AbortName)
		for {
			var reason string
			ch.Receive(ctx, &reason)
			if switching {
				workflow.GetLogger(ctx).Warn("abort signal ignored: the alias switch has started")
				continue
			}
			abort(reason)
		}
	})

	created := false
	fail := func(step string, err error) (*RevalidationSyncResult, error) {
		if created {
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			if derr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, indexOptions), searchActs.DropSyncIndex,
				activities.SyncIndexInput{Index: res.Index}).Get(dctx, nil); derr != nil {
				workflow.GetLogger(ctx).Error("could not drop the unused build", "index", res.Index, "error", derr)
			}
		}
		if res.AbortReason != "" {
			tr.step("aborted during " + step)
			res.Outcome = OutcomeAborted
			setOutcome(ctx, OutcomeAborted)
			return res, nil
		}
		tr.step("failed: " + step)
		tr.p.Error = err.Error()
		res.Outcome = OutcomeFailed
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}
	run := func(step string, opts workflow.ActivityOptions, act, arg, out any) error {
		tr.step(step)
		actx := workflow.WithActivityOptions(phaseCtx, opts)
		if arg == nil {
			return workflow.ExecuteActivity(actx, act).Get(phaseCtx, out)
		}
		return workflow.ExecuteActivity(actx, act, arg).Get(phaseCtx, out)
	}

	var live activities.LiveIndexState
	if err := run("create index", indexOptions, searchActs.CreateSyncIndex, activities.SyncIndexInput{Index: res.Index}, &live); err != nil {
		return fail("create index", err)
	}
	created = true
	tr.p.Counts["live"] = live.Count
	var cleared activities.ClearResult
	if err := run("clear stale syncData", commandOptions, rabbitActs.ClearSyncData, nil, &cleared); err != nil {
		return fail("clear stale syncData", err)
	}
	if err := run("syncStart", commandOptions, rabbitActs.PublishRevalCommand,
		activities.CommandInput{RoutingKey: activities.SyncStartKey, Command: activities.SyncStartCommand}, nil); err != nil {
		return fail("syncStart", err)
	}
	tr.p.WaitingOn = "TCS syncData (running counts: the ingest activity's heartbeat)"
	if err := run("syncData", ingestOptions, ingestActs.IngestConnections,
		activities.IngestInput{Index: res.Index, IdleTimeout: idle}, &res.Connections); err != nil {
		return fail("syncData", err)
	}
	tr.p.Counts["connections"] = res.Connections.Docs
	tr.p.WaitingOn = ""
	// Nothing an earlier run left on the GMC queue may be read as this run's answer: clear
	// it, and have the ingest drop what SQS accepted before the clear.
	var notBefore time.Time
	if workflow.GetVersion(ctx, PurgeGMCQueueChange, workflow.DefaultVersion, 1) >= 1 {
		clearOptions := clearQueueOptionsFor(heartbeat)
		var cleared activities.GMCClearResult
		if err := run("clear stale GMC messages", clearOptions, ingestActs.ClearGMCQueue,
			activities.ClearGMCInput{Queue: GMCSyncQueue(in.Environment)}, &cleared); err != nil {
			return fail("clear stale GMC messages", err)
		}
		res.GMCCleared, notBefore = cleared.Cleared, cleared.NotBefore
		tr.p.Counts["staleGmcCleared"] = cleared.Cleared
	}
	if err := run("gmcSyncStart", commandOptions, rabbitActs.PublishRevalCommand,
		activities.CommandInput{RoutingKey: activities.GMCSyncStartKey, Command: activities.GMCSyncCommand}, nil); err != nil {
		return fail("gmcSyncStart", err)
	}
	tr.p.WaitingOn = "GMC summaries on SQS " + GMCSyncQueue(in.Environment)
	if err := run("gmcSync", ingestOptions, ingestActs.IngestGMC,
		activities.IngestInput{Index: res.Index, Queue: GMCSyncQueue(in.Environment), IdleTimeout: idle, Quiet: quiet, NotBefore: notBefore},
		&res.GMC); err != nil {
		return fail("gmcSync", err)
	}
	tr.p.Counts["gmc"] = res.GMC.Docs
	tr.p.Counts["gmcStale"] = res.GMC.Stale
	tr.p.WaitingOn = ""
	check := activities.CheckInput{Index: res.Index, Connections: res.Connections.Announced, GMC: res.GMC.Announced,
		ReceivedConnections: res.Connections.Messages, MaxShrink: maxShrink}
	if err := run("check counts", indexOptions, searchActs.CheckSyncIndex, check, &res.Counts); err != nil {
		return fail("check counts", err)
	}
	tr.p.Counts["total"] = res.Counts.Total
	tr.p.Counts["currentConnections"] = res.Counts.CurrentConnections
	tr.p.Counts["discrepancies"] = res.Counts.Discrepancies
	if res.AbortReason != "" {
		return fail("check counts", temporal.NewCanceledError())
	}

	// From here on the sync cannot be aborted: the switch runs on the run's own context.
	switching = true
	tr.step("switch aliases")
	var sw activities.SwitchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, indexOptions), searchActs.SwitchRevalAliases,
		activities.SyncIndexInput{Index: res.Index}).Get(ctx, &sw); err != nil {
		return fail("switch aliases", err)
	}
	created = false // it serves now: never drop it
	res.Previous, res.LegacyRemoved = sw.Previous, sw.LegacyRemoved

	tr.step("index rebuild command")
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, commandOptions), rabbitActs.PublishRevalCommand,
		activities.CommandInput{RoutingKey: activities.IndexRebuildKey, Command: activities.GetMasterCommand}).Get(ctx, nil); err != nil {
		res.Warnings = append(res.Warnings, "index rebuild command not published: "+err.Error())
	}
	tr.step("clean up")
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, indexOptions), searchActs.CleanupSyncIndexes,
		activities.CleanupInput{Current: res.Index, KeepPrevious: keep}).Get(ctx, &res.Cleanup); err != nil {
		res.Warnings = append(res.Warnings, "old builds not cleaned up: "+err.Error())
	}
	if len(res.Warnings) > 0 {
		tr.notify(ctx, "failed", errors.New(res.Warnings[0]))
	}
	tr.step("done")
	res.Outcome = OutcomeSucceeded
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}
