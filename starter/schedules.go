package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/watchers"
	"github.com/opsflow/opsflow/workflows"
)

// runSchedules manages the watchers' Temporal Schedules: apply (create or update every schedule
// from config, idempotently), list (with last and next runs), trigger (one scan now).
func runSchedules(args []string) error {
	if len(args) == 0 {
		return errors.New("schedules: give apply, list or trigger (opsflow schedules <command> -h)")
	}
	switch args[0] {
	case "apply":
		return runSchedulesApply(args[1:])
	case "list":
		return runSchedulesList(args[1:])
	case "trigger":
		return runSchedulesTrigger(args[1:])
	}
	return fmt.Errorf("schedules: unknown command %q (apply, list, trigger)", args[0])
}

// scheduleFlags are the flags every schedules command takes: the client's, the environment (it
// is part of each schedule's id) and the schedules file.
func scheduleFlags(name string) (*flag.FlagSet, *config.Client, *string) {
	fs, cfg := commandFlags("schedules "+name, true)
	file := fs.String("file", config.Env("OPSFLOW_SCHEDULES_FILE", ""),
		"JSON schedules file (OPSFLOW_SCHEDULES_FILE; default: every watcher every 5m)")
	return fs, cfg, file
}

func runSchedulesApply(args []string) error {
	fs, cfg, file := scheduleFlags("apply")
	if err := parse(fs, cfg, args); err != nil {
		return err
	}
	scheds, err := watchers.Load(*file)
	if err != nil {
		return err
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, sc := range scheds {
		if missing := sc.Missing(); missing != "" {
			// Left as it is: a schedule created from an earlier file keeps running.
			fmt.Printf("%s: not configured (%s), skipped\n", watchers.ScheduleID(sc.Watcher, cfg.Environment), missing)
			continue
		}
		what, err := applySchedule(s, sc)
		if err != nil {
			return err
		}
		state := "running"
		if sc.Paused {
			state = "paused"
		}
		fmt.Printf("%-28s %-8s %-22s %s\n", watchers.ScheduleID(sc.Watcher, cfg.Environment), what, sc.Describe(), state)
	}
	return nil
}

// scheduleOptions is the whole schedule of a watcher: its timing, the workflow it starts with
// its input, and the policies: a run never runs beside another run of the same watcher (skip),
// and missed runs within the catch-up window are caught up by one run.
func scheduleOptions(cfg config.Client, sc watchers.Schedule) (client.ScheduleOptions, error) {
	w, err := watchers.Lookup(sc.Watcher)
	if err != nil {
		return client.ScheduleOptions{}, err
	}
	id := watchers.ScheduleID(sc.Watcher, cfg.Environment)
	if missing := sc.Missing(); missing != "" {
		return client.ScheduleOptions{}, fmt.Errorf("schedule %s: not configured (%s)", id, missing)
	}
	args := []any{workflows.WatcherScanInput{Environment: cfg.Environment, BatchSize: sc.BatchSize, Prefix: sc.Prefix}}
	timeout := 24 * time.Hour
	if w.Input == watchers.InputEllaHealth {
		args = []any{sc.HealthInput()}
		// A check takes minutes (its activities time out within half an hour); a run stuck
		// longer, e.g. with no worker, would block every later check (overlap skip).
		timeout = time.Hour
	}
	spec := client.ScheduleSpec{}
	if sc.Cron != "" {
		spec.CronExpressions = []string{sc.Cron}
	} else {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: time.Duration(sc.Every)}}
	}
	return client.ScheduleOptions{
		ID:   id,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:                       id, // Temporal appends the scheduled time
			Workflow:                 w.Workflow,
			Args:                     args,
			TaskQueue:                cfg.Temporal.TaskQueue,
			WorkflowExecutionTimeout: timeout,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet(w.Workflow),
				workflows.EnvironmentKey.ValueSet(cfg.Environment)),
		},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: sc.Catchup(),
		Note:          sc.Note,
		Paused:        sc.Paused,
	}, nil
}

// applySchedule creates the schedule, or replaces the timing, action, policies, note and paused
// state of the one already there. It says which it did.
func applySchedule(s *session, sc watchers.Schedule) (string, error) {
	opts, err := scheduleOptions(s.cfg, sc)
	if err != nil {
		return "", err
	}
	sched := s.c.ScheduleClient()
	h := sched.GetHandle(s.ctx, opts.ID)
	if _, err := h.Describe(s.ctx); err != nil {
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return "", fmt.Errorf("describe schedule %s: %w", opts.ID, err)
		}
		if _, err := sched.Create(s.ctx, opts); err != nil {
			return "", fmt.Errorf("create schedule %s: %w", opts.ID, err)
		}
		return "created", nil
	}
	err = h.Update(s.ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		next := in.Description.Schedule
		next.Spec = &opts.Spec
		next.Action = opts.Action
		next.Policy = &client.SchedulePolicies{Overlap: opts.Overlap, CatchupWindow: opts.CatchupWindow}
		if next.State == nil {
			next.State = &client.ScheduleState{}
		}
		next.State.Note, next.State.Paused = opts.Note, opts.Paused
		return &client.ScheduleUpdate{Schedule: &next}, nil
	}})
	if err != nil {
		return "", fmt.Errorf("update schedule %s: %w", opts.ID, err)
	}
	// An update does not change the paused state on every server version: set it explicitly.
	desc, err := h.Describe(s.ctx)
	if err != nil {
		return "", fmt.Errorf("describe schedule %s: %w", opts.ID, err)
	}
	if desc.Schedule.State != nil && desc.Schedule.State.Paused != opts.Paused {
		if opts.Paused {
			err = h.Pause(s.ctx, client.SchedulePauseOptions{Note: opts.Note})
		} else {
			err = h.Unpause(s.ctx, client.ScheduleUnpauseOptions{Note: opts.Note})
		}
		if err != nil {
			return "", fmt.Errorf("set paused=%t on schedule %s: %w", opts.Paused, opts.ID, err)
		}
	}
	return "updated", nil
}

func runSchedulesList(args []string) error {
	fs, cfg, _ := scheduleFlags("list")
	if err := parse(fs, cfg, args); err != nil {
		return err
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("%-28s %-7s %-20s %-24s %-24s %s\n", "SCHEDULE", "STATE", "SPEC", "LAST RUN", "NEXT RUN", "NOTE")
	for _, w := range watchers.Known() {
		id := watchers.ScheduleID(w.Name, cfg.Environment)
		desc, err := s.c.ScheduleClient().GetHandle(s.ctx, id).Describe(s.ctx)
		if err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				fmt.Printf("%-28s %-7s (not applied: %sopsflow schedules apply)\n", id, "absent", needsFirst(w))
				continue
			}
			return fmt.Errorf("describe schedule %s: %w", id, err)
		}
		fmt.Println(describeSchedule(id, desc))
	}
	return nil
}

// needsFirst is what to do before `opsflow schedules apply` creates w's schedule, for messages.
func needsFirst(w watchers.Watcher) string {
	if w.Needs == "" {
		return ""
	}
	return w.Needs + ", then "
}

// describeSchedule is one line of `opsflow schedules list`.
func describeSchedule(id string, d *client.ScheduleDescription) string {
	state, note := "active", ""
	if d.Schedule.State != nil {
		note = d.Schedule.State.Note
		if d.Schedule.State.Paused {
			state = "paused"
		}
	}
	last, next := "never", "-"
	if n := len(d.Info.RecentActions); n > 0 {
		a := d.Info.RecentActions[n-1]
		last = a.ActualTime.UTC().Format(time.RFC3339)
	}
	if len(d.Info.RunningWorkflows) > 0 {
		last += " (running)"
	}
	if len(d.Info.NextActionTimes) > 0 && state == "active" {
		next = d.Info.NextActionTimes[0].UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%-28s %-7s %-20s %-24s %-24s %s", id, state, specText(d.Schedule.Spec), last, next, note)
}

func specText(spec *client.ScheduleSpec) string {
	if spec == nil {
		return "-"
	}
	var parts []string
	for _, c := range spec.CronExpressions {
		parts = append(parts, "cron "+c)
	}
	for _, iv := range spec.Intervals {
		parts = append(parts, "every "+iv.Every.String())
	}
	// The server keeps a cron expression as a calendar: show it as cron again.
	for _, c := range spec.Calendars {
		parts = append(parts, "cron "+strings.Join([]string{cronField(c.Minute, 0, 59), cronField(c.Hour, 0, 23),
			cronField(c.DayOfMonth, 1, 31), cronField(c.Month, 1, 12), cronField(c.DayOfWeek, 0, 6)}, " "))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// cronField writes one calendar field (lo..hi its full range) the way cron does.
func cronField(ranges []client.ScheduleRange, lo, hi int) string {
	if len(ranges) == 0 {
		return "*"
	}
	var out []string
	for _, r := range ranges {
		end, step := max(r.End, r.Start), max(r.Step, 1)
		var f string
		switch {
		case r.Start == lo && end == hi:
			f = "*"
		case r.Start == end:
			f = fmt.Sprint(r.Start)
		default:
			f = fmt.Sprintf("%d-%d", r.Start, end)
		}
		if step > 1 {
			f += fmt.Sprintf("/%d", step)
		}
		out = append(out, f)
	}
	return strings.Join(out, ",")
}
