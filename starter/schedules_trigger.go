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

// runSchedulesTrigger runs a watcher once now (a scan, or ELLA's health check), through its
// schedule, so the schedule's overlap policy applies: while a run of that watcher is going,
// the trigger is skipped and --wait follows the running one instead.
func runSchedulesTrigger(args []string) error {
	fs, cfg, _ := scheduleFlags("trigger")
	wait := fs.Bool("wait", false, "wait for the run (and its continue-as-new runs) to finish; print its result")
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
		return errors.New("schedules trigger: name one watcher: " + strings.Join(watchers.Names(), ", "))
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
		return fmt.Errorf("describe schedule %s (apply it first: %sopsflow schedules apply): %w", id, needsFirst(w), err)
	}
	noun := runNoun(w)
	if err := h.Trigger(s.ctx, client.ScheduleTriggerOptions{}); err != nil {
		return fmt.Errorf("trigger schedule %s: %w", id, err)
	}
	if len(before.Info.RunningWorkflows) > 0 {
		fmt.Printf("schedule %s: a %s is running already (%s); the trigger is skipped by the overlap policy\n",
			id, noun, before.Info.RunningWorkflows[0].WorkflowID)
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
	fmt.Printf("%s %s  %s\n", noun, run.WorkflowID, cfg.WorkflowURL(run.WorkflowID, run.FirstExecutionRunID))
	return printRunResult(ctx, s, w, run.WorkflowID)
}

// runNoun is what one run of the watcher is called in messages.
func runNoun(w watchers.Watcher) string {
	if w.Input == watchers.InputEllaHealth {
		return "check"
	}
	return "scan"
}

// printRunResult waits for the watcher's run workflowID (Get follows continue-as-new runs to
// the last one) and prints its result after "status: COMPLETED", by workflow type: the
// notification poll's counts, the health check's state, or a scan's totals. A scan with failed
// packages is an error, so is a run that failed; a health alert is a result, not an error.
func printRunResult(ctx context.Context, s *session, w watchers.Watcher, workflowID string) error {
	get := func(what string, v any) error {
		if err := s.c.GetWorkflow(ctx, workflowID, "").Get(ctx, v); err != nil {
			return fmt.Errorf("%s %s failed: %w", what, workflowID, err)
		}
		return nil
	}
	switch w.Workflow {
	case workflows.BridgeNotificationPollProcedure:
		var drained activities.DrainResult
		if err := get("poll", &drained); err != nil {
			return err
		}
		fmt.Printf("status: COMPLETED\n  notifications %d, archives started %d, already started %d, ignored %d\n",
			drained.Received, drained.Started, drained.Duplicates, drained.Ignored)
		return nil
	case watchers.EllaHealth.Workflow:
		var res workflows.EllaHealthResult
		if err := get("check", &res); err != nil {
			return err
		}
		fmt.Print("status: COMPLETED\n" + healthSummary(res))
		return nil
	}
	var res workflows.WatcherScanResult
	if err := get("scan", &res); err != nil {
		return err
	}
	t := res.Totals
	fmt.Printf("status: COMPLETED\n  found %d, started %d, succeeded %d, failed %d, already started %d, runs %d, skipped %v\n",
		t.Found, t.Started, t.Succeeded, t.Failed, t.AlreadyStarted, t.Runs, t.Skipped)
	for _, f := range t.FailedChildren {
		fmt.Printf("  failed: %s  %s\n", f, s.cfg.WorkflowURL(f, ""))
	}
	if t.Failed > 0 {
		return fmt.Errorf("%d package(s) failed; see the failed runs above", t.Failed)
	}
	return nil
}

// healthSummary is an EllaHealth result under "status: COMPLETED": the state and the one
// before, the change (none, raised, cleared), the count of alerts, the alert e-mail's
// Message-ID (or "no e-mail"), then each alert on its own line.
func healthSummary(res workflows.EllaHealthResult) string {
	or := func(v, none string) string {
		if v == "" {
			return none
		}
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  health %s (previous %s), transition %s, alerts %d, mailed %s\n", res.Report.Status,
		or(res.Previous, "unknown"), or(res.Transition, "none"), len(res.Report.Alerts), or(res.Mailed, "no e-mail"))
	for _, a := range res.Report.Alerts {
		fmt.Fprintf(&b, "  alert: %s\n", a)
	}
	return b.String()
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
