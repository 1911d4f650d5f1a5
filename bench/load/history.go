package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// wfRun is one workflow run as the server's visibility store lists it, with the size of its
// history (the figure continue-as-new bounds: the server refuses a history past 50 MiB or
// 51 200 events, and warns at 10 MiB / 10 240 events).
type wfRun struct {
	workflowID, runID, workflowType string
	status                          enumspb.WorkflowExecutionStatus
	start, close                    time.Time
	events, bytes                   int64
}

// listRuns lists every run matching the visibility query, continue-as-new runs included
// (each is a run of its own).
func (h *harness) listRuns(ctx context.Context, query string) ([]wfRun, error) {
	var out []wfRun
	var token []byte
	for {
		var resp *workflowservice.ListWorkflowExecutionsResponse
		err := retry(ctx, "list workflows", func() (err error) {
			resp, err = h.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list workflows %q: %w", query, err)
		}
		for _, e := range resp.Executions {
			r := wfRun{workflowID: e.GetExecution().GetWorkflowId(), runID: e.GetExecution().GetRunId(),
				workflowType: e.GetType().GetName(), status: e.GetStatus(), start: e.GetStartTime().AsTime(),
				events: e.GetHistoryLength(), bytes: e.GetHistorySizeBytes()}
			if e.GetCloseTime() != nil {
				r.close = e.GetCloseTime().AsTime()
			}
			out = append(out, r)
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			return out, nil
		}
	}
}

// count is how many runs match the visibility query.
func (h *harness) count(ctx context.Context, query string) (int64, error) {
	var n int64
	err := retry(ctx, "count workflows", func() error {
		resp, err := h.c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		n = resp.GetCount()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count workflows %q: %w", query, err)
	}
	return n, nil
}

// retry calls f up to 10 times: a dev server under load sometimes answers a visibility call
// with a transient error (seen: "Namespace default is not found", deadline exceeded).
func retry(ctx context.Context, what string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || attempt == 10 || ctx.Err() != nil {
			return err
		}
		say("  %s: %v; trying again", what, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
	}
}

// envQuery is the visibility query of an environment's runs of one workflow type.
func envQuery(env, workflowType string) string {
	return fmt.Sprintf(`OpsflowEnvironment = %q AND WorkflowType = %q`, env, workflowType)
}

// waitClosed waits until want runs match the query and none of them is running (visibility
// lags the runs a little), and returns them. It polls with counts, every 2 s, not to load the
// server it measures with listings.
func (h *harness) waitClosed(ctx context.Context, query string, want int) ([]wfRun, error) {
	last := ""
	for {
		total, err := h.count(ctx, query)
		if err != nil {
			return nil, err
		}
		open, err := h.count(ctx, "("+query+`) AND ExecutionStatus = "Running"`)
		if err != nil {
			return nil, err
		}
		if total >= int64(want) && open == 0 {
			return h.listRuns(ctx, query)
		}
		if msg := fmt.Sprintf("%d of %d runs listed, %d running", total, want, open); msg != last {
			say("  waiting: %s", msg)
			last = msg
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %d closed runs of %q (%s): %w", want, query, last, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// historyStat summarizes the histories of one workflow type's runs.
type historyStat struct {
	workflowType string
	runs         int
	maxEvents    int64
	maxBytes     int64
	sumEvents    int64
	sumBytes     int64
	// statuses counts the runs by status (COMPLETED, CONTINUED_AS_NEW, FAILED, ...).
	statuses map[string]int
	// p50 and max of the runs' start → close times; slowestRun is the run that took max.
	p50, slowest time.Duration
	slowestRun   wfRun
	// slow counts the runs that took over 3 times the median and at least 5 s.
	slow        int
	first, last time.Time // earliest start, latest close
}

// summarize groups runs by workflow type, in the order of types (others after, sorted).
func summarize(runs []wfRun, types ...string) []historyStat {
	by := map[string]*historyStat{}
	durations := map[string][]time.Duration{}
	for _, r := range runs {
		s := by[r.workflowType]
		if s == nil {
			s = &historyStat{workflowType: r.workflowType, statuses: map[string]int{}}
			by[r.workflowType] = s
		}
		s.runs++
		s.maxEvents, s.maxBytes = max(s.maxEvents, r.events), max(s.maxBytes, r.bytes)
		s.sumEvents += r.events
		s.sumBytes += r.bytes
		s.statuses[statusName(r.status)]++
		if s.first.IsZero() || r.start.Before(s.first) {
			s.first = r.start
		}
		if r.close.After(s.last) {
			s.last = r.close
		}
		if !r.close.IsZero() {
			took := r.close.Sub(r.start)
			durations[r.workflowType] = append(durations[r.workflowType], took)
			if took > s.slowestRun.close.Sub(s.slowestRun.start) {
				s.slowestRun = r
			}
		}
	}
	var names []string
	for n := range by {
		if !slices.Contains(types, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []historyStat
	for _, n := range append(slices.Clone(types), names...) {
		s := by[n]
		if s == nil {
			continue
		}
		if d := durations[n]; len(d) > 0 {
			slices.Sort(d)
			s.p50, s.slowest = d[len(d)/2], d[len(d)-1]
			for _, x := range d {
				if x > 3*s.p50 && x >= 5*time.Second {
					s.slow++
				}
			}
		}
		out = append(out, *s)
	}
	return out
}

// statusName is "Completed" for WORKFLOW_EXECUTION_STATUS_COMPLETED.
func statusName(s enumspb.WorkflowExecutionStatus) string { return s.String() }

// longestWait reads a run's history and returns its longest wait between a task being
// scheduled and its (last) attempt being started, with what waited, and the activities that
// were retried, with why. The started event of an activity is written with its last attempt, so
// an activity that timed out and ran again waits the earlier attempts' time: the retries say
// which it was.
func (h *harness) longestWait(ctx context.Context, r wfRun) (time.Duration, string, []string, error) {
	scheduled := map[int64]time.Time{}
	names := map[int64]string{}
	var longest time.Duration
	var what string
	var retries []string
	it := h.c.GetWorkflowHistory(ctx, r.workflowID, r.runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, "", nil, fmt.Errorf("history of %s: %w", r.workflowID, err)
		}
		t := ev.GetEventTime().AsTime()
		var from int64
		if a := ev.GetWorkflowTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()], names[ev.GetEventId()] = t, "a workflow task"
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()], names[ev.GetEventId()] = t, "activity "+a.GetActivityType().GetName()
		}
		if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil {
			from = a.GetScheduledEventId()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			from = a.GetScheduledEventId()
			if a.GetAttempt() > 1 {
				retries = append(retries, fmt.Sprintf("%s started at attempt %d, %.1f s after it was scheduled, the attempt before ended by %q",
					names[from], a.GetAttempt(), t.Sub(scheduled[from]).Seconds(), a.GetLastFailure().GetMessage()))
			}
		}
		if at, ok := scheduled[from]; ok && t.Sub(at) > longest {
			longest, what = t.Sub(at), names[from]
		}
	}
	return longest, what, retries, nil
}

// slowestNote says where the slowest run of a type spent its time, when some runs took much
// longer than the median.
func (h *harness) slowestNote(ctx context.Context, s historyStat) string {
	if s.slow == 0 {
		return ""
	}
	wait, what, retries, err := h.longestWait(ctx, s.slowestRun)
	if err != nil {
		return fmt.Sprintf("slowest %s (%.1f s): %v", s.workflowType, s.slowest.Seconds(), err)
	}
	note := fmt.Sprintf("%d of %d %s runs took over 3 times the median (%.1f s); the slowest (%s, %.1f s) waited %.1f s for %s to start (scheduled → started)",
		s.slow, s.runs, s.workflowType, s.p50.Seconds(), s.slowestRun.workflowID, s.slowest.Seconds(), wait.Seconds(), what)
	if len(retries) > 0 {
		note += "; retried: " + strings.Join(retries, "; ")
	}
	return note
}
