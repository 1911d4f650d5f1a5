package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/watchers"
	"github.com/opsflow/opsflow/workflows"
)

// runSchedulesTrigger runs one scan of a watcher now, through its schedule, so the schedule's
// overlap policy applies: while a scan of that watcher runs, the trigger is skipped and --wait
// follows the running scan instead.
func runSchedulesTrigger(args []string) error {
	fs, cfg, _ := scheduleFlags("trigger")
	wait := fs.Bool("wait", false, "wait for the scan (and its continue-as-new runs) to finish; print its totals")
	timeout := fs.Duration("timeout", 30*time.Minute, "with --wait, how long to wait")
	// The watcher may come before or after the flags: trigger nsc-exporter --wait.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parse(fs, cfg, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if name == "" || fs.NArg() != 0 {
		names := make([]string, len(watchers.All))
		for i, w := range watchers.All {
			names[i] = w.Name
		}
		return errors.New("schedules trigger: name one watcher: " + strings.Join(names, ", "))
	}
	w, err := watchers.Lookup(name)
	if err != nil {
		return err
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	id := watchers.ScheduleID(w.Name, cfg.Environment)
	h := s.c.ScheduleClient().GetHandle(s.ctx, id)
	before, err := h.Describe(s.ctx)
	if err != nil {
		return fmt.Errorf("describe schedule %s (apply it first: opsflow schedules apply): %w", id, err)
	}
	if err := h.Trigger(s.ctx, client.ScheduleTriggerOptions{}); err != nil {
		return fmt.Errorf("trigger schedule %s: %w", id, err)
	}
	if len(before.Info.RunningWorkflows) > 0 {
		fmt.Printf("schedule %s: a scan is running already (%s); the trigger is skipped by the overlap policy\n",
			id, before.Info.RunningWorkflows[0].WorkflowID)
	} else {
		fmt.Printf("schedule %s: triggered\n", id)
	}
	if !*wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, *timeout)
	defer cancel()
	run, err := scanStartedSince(ctx, h, before)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", id, err)
	}
	fmt.Printf("scan %s  %s\n", run.WorkflowID, cfg.WorkflowURL(run.WorkflowID, run.FirstExecutionRunID))
	if w.Workflow == workflows.BridgeNotificationPollProcedure {
		var drained activities.DrainResult
		if err := s.c.GetWorkflow(ctx, run.WorkflowID, "").Get(ctx, &drained); err != nil {
			return fmt.Errorf("poll %s failed: %w", run.WorkflowID, err)
		}
		fmt.Printf("status: COMPLETED\n  notifications %d, archives started %d, already started %d, ignored %d\n",
			drained.Received, drained.Started, drained.Duplicates, drained.Ignored)
		return nil
	}
	var res workflows.WatcherScanResult
	// Get follows the scan through its continue-as-new runs to the last one's result.
	if err := s.c.GetWorkflow(ctx, run.WorkflowID, "").Get(ctx, &res); err != nil {
		return fmt.Errorf("scan %s failed: %w", run.WorkflowID, err)
	}
	t := res.Totals
	fmt.Printf("status: COMPLETED\n  found %d, started %d, succeeded %d, failed %d, already started %d, runs %d, skipped %v\n",
		t.Found, t.Started, t.Succeeded, t.Failed, t.AlreadyStarted, t.Runs, t.Skipped)
	for _, f := range t.FailedChildren {
		fmt.Printf("  failed: %s  %s\n", f, cfg.WorkflowURL(f, ""))
	}
	if t.Failed > 0 {
		return fmt.Errorf("%d package(s) failed; see the failed runs above", t.Failed)
	}
	return nil
}

// scanStartedSince waits until the schedule shows a scan started after before was described
// (or the scan that was already running then) and returns it.
func scanStartedSince(ctx context.Context, h client.ScheduleHandle, before *client.ScheduleDescription) (client.ScheduleWorkflowExecution, error) {
	if len(before.Info.RunningWorkflows) > 0 {
		return before.Info.RunningWorkflows[0], nil
	}
	seen := map[string]bool{}
	for _, a := range before.Info.RecentActions {
		if a.StartWorkflowResult != nil {
			seen[a.StartWorkflowResult.WorkflowID] = true
		}
	}
	for {
		d, err := h.Describe(ctx)
		if err != nil {
			return client.ScheduleWorkflowExecution{}, err
		}
		for _, a := range d.Info.RecentActions {
			if a.StartWorkflowResult != nil && !seen[a.StartWorkflowResult.WorkflowID] {
				return *a.StartWorkflowResult, nil
			}
		}
		select {
		case <-ctx.Done():
			return client.ScheduleWorkflowExecution{}, fmt.Errorf("no scan started: %w", ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}
