package main

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/workflows"
)

// runSync starts the revalidation sync of one environment, aborts the running one, or rolls
// the environment back to its previous build that served (--rollback). The workflow id is
// fixed per environment, so a second start while one runs is refused by Temporal instead of
// running the sync twice; a sync and a rollback of one environment never run together.
func runSync(args []string) error {
	fs, cfg := commandFlags("sync", true)
	wait := fs.Bool("wait", false, "follow the progress and print the result; exit 1 if the sync fails")
	abort := fs.String("abort", "", "abort the running sync of --environment with this reason (update; the live index keeps serving)")
	rollback := fs.Bool("rollback", false, "move the aliases of --environment back to the previous build that served (RevalidationRollback), wait and print the result")
	idle := fs.String("idle-timeout", "", "how long TCS or the recommendation service may stay silent (default 15m)")
	heartbeat := fs.String("heartbeat-timeout", "", "how soon a crashed ingest resumes on another worker (default 1m)")
	maxShrink := fs.Float64("max-shrink", 0.1, "refuse the switch if the new index is smaller than the live one by more than this fraction")
	keep := fs.Int("keep-previous", 1, "older builds that served kept for rollback (builds that never served are deleted)")
	timeLimit := fs.String("time-limit", "", "the sync's own limit up to the alias switch: past it the new build is dropped, operators notified, the run fails (default 20h)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *rollback && *abort != "" {
		return errors.New("sync: --rollback and --abort are exclusive")
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, c := s.ctx, s.c
	id := workflows.RevalidationSyncWorkflowID(cfg.Environment)
	if *abort != "" {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.AbortName,
			Args: []any{*abort}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			return fmt.Errorf("abort %s: %w", id, err)
		}
		var answer string
		if err := h.Get(ctx, &answer); err != nil {
			return fmt.Errorf("abort %s: %w", id, err)
		}
		fmt.Println(answer)
		return nil
	}
	if *rollback {
		return runRollback(ctx, c, *cfg)
	}
	in := workflows.RevalidationSyncInput{Environment: cfg.Environment, MaxShrink: maxShrink, KeepPrevious: keep,
		IdleTimeout: *idle, HeartbeatTimeout: *heartbeat, TimeLimit: *timeLimit}
	run, err := startSync(ctx, c, cfg.Temporal.TaskQueue, in)
	if err != nil {
		return err
	}
	printRun(*cfg, "RevalidationSync of "+cfg.Environment, run, false, *wait)
	if !*wait {
		return nil
	}
	return follow(ctx, c, run, &workflows.RevalidationSyncResult{})
}

// startSync starts RevalidationSync unless the environment's rollback runs. The server's
// execution timeout is the sync's own time limit plus RevalidationSyncWindDown, so the run's
// deadline (drop the build, notify) always comes first.
func startSync(ctx context.Context, c client.Client, taskQueue string, in workflows.RevalidationSyncInput) (client.WorkflowRun, error) {
	env := in.Environment
	limit, err := workflows.ParseSyncTimeLimit(in.TimeLimit)
	if err != nil {
		return nil, fmt.Errorf("sync: --time-limit: %w", err)
	}
	rollbackID := workflows.RevalidationRollbackWorkflowID(env)
	if running, runID, err := isRunning(ctx, c, rollbackID); err != nil {
		return nil, err
	} else if running {
		return nil, fmt.Errorf("a revalidation rollback of %s is running (workflow %s, run %s); start the sync once it has ended",
			env, rollbackID, runID)
	}
	id := workflows.RevalidationSyncWorkflowID(env)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running sync's handle instead of an error.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 workflows.RevalidationSyncExecutionTimeout(limit),
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("RevalidationSync"),
			workflows.EnvironmentKey.ValueSet(env)),
	}, workflows.RevalidationSync, in)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return nil, fmt.Errorf("a revalidation sync of %s is already running (workflow %s, run %s); not starting a second one. "+
				"Follow it with `opsflow progress --workflow-id %s`, or stop it with `opsflow sync --environment %s --abort REASON`",
				env, id, started.RunId, id, env)
		}
		return nil, fmt.Errorf("start RevalidationSync: %w", err)
	}
	return run, nil
}
