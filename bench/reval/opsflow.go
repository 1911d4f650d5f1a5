package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/workflows"
)

// opsflowResult is what the sync did and cost.
type opsflowResult struct {
	side
	Result    workflows.RevalidationSyncResult
	Phases    []phase
	WorkerRSS int64
	Reader    *aliasReader
	Live      string // the live index the aliases served during the sync
	workerLog string
}

// runOpsflow runs the sync as an operator does: the worker binary on its own task queue, the
// workflow started through the payload codec, while a reader polls current_connections. The
// time is workflow start → result: creating the index, the count checks, the alias switch and
// the clean-up as well as both ingests.
func (h *harness) runOpsflow(ctx context.Context) (res opsflowResult, err error) {
	if res.Live, err = seedLiveIndex(ctx, h.eng.es, h.o.liveDocs, h.o.seed); err != nil {
		return res, err
	}
	worker, err := h.startWorker(ctx, &res)
	if err != nil {
		return res, err
	}
	defer worker.stop(45 * time.Second)
	c, err := temporalx.Dial(h.cfg.Client, temporalx.NewLogger("warn"))
	if err != nil {
		return res, err
	}
	defer c.Close()

	res.Reader = &aliasReader{}
	readCtx, stopReader := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); res.Reader.run(readCtx, h.eng.es) }()
	defer func() { stopReader(); <-readerDone }()

	st := h.beginSide(worker)
	runID, err := h.executeSync(ctx, c, &res.Result)
	if err != nil {
		return res, fmt.Errorf("RevalidationSync: %w; worker log tail:\n%s", err, worker.logTail(30))
	}
	res.Seconds = time.Since(st.began).Seconds()
	h.endSide(ctx, st, worker, &res.side) // the worker still runs: its CPU and memory are readable
	stopReader()

	if res.WorkerRSS, err = worker.peakRSS(); err != nil {
		return res, err
	}
	id := workflows.RevalidationSyncWorkflowID(h.env)
	if res.Phases, err = phases(ctx, c, id, runID); err != nil {
		say("could not read the workflow history for the phase times: %v", err)
	}
	return res, checkCounts(res.Result, h.o)
}

// startWorker starts the worker binary on the benchmark's task queue and environment and
// waits until it polls.
func (h *harness) startWorker(ctx context.Context, res *opsflowResult) (*proc, error) {
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"OPSFLOW_ES_URL="+h.cfg.Reval.ESURL,
		"OPSFLOW_TASK_QUEUE="+h.cfg.Temporal.TaskQueue,
		"OPSFLOW_ENVIRONMENT="+h.env,
		"OPSFLOW_METRICS_ADDR="+metricsAddr,
		"OPSFLOW_WORKER_SITES=none", // only the central worker: the sync runs there
		fmt.Sprintf("OPSFLOW_REVAL_BATCH=%d", h.o.batch),
	)
	res.workerLog = filepath.Join(h.tmp, "worker.log")
	worker, err := startProc("worker", res.workerLog, env, filepath.Join(h.tmp, "opsflow-worker"))
	if err != nil {
		return nil, err
	}
	for _, line := range []string{"revalidation sync registered", "worker started"} {
		if err := worker.waitForLog(ctx, line, time.Minute); err != nil {
			worker.stop(10 * time.Second)
			return nil, err
		}
	}
	return worker, nil
}

// executeSync starts RevalidationSync through the codec like the starter does and waits for
// its result. A run that fails is terminated: it must not wait for a worker about to stop.
func (h *harness) executeSync(ctx context.Context, c client.Client, out *workflows.RevalidationSyncResult) (string, error) {
	id := workflows.RevalidationSyncWorkflowID(h.env)
	say("opsflow: RevalidationSync %s on task queue %s", id, h.cfg.Temporal.TaskQueue)
	wf, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                h.cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 h.o.timeout,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("RevalidationSync"),
			workflows.EnvironmentKey.ValueSet(h.env)),
	}, workflows.RevalidationSync, workflows.RevalidationSyncInput{Environment: h.env, IdleTimeout: h.o.idle.String()})
	if err != nil {
		return "", fmt.Errorf("start: %w", err)
	}
	if err := wf.Get(ctx, out); err != nil {
		tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.TerminateWorkflow(tctx, id, wf.GetRunID(), "benchmark stopped: "+err.Error())
		tcancel()
		return "", err
	}
	return wf.GetRunID(), nil
}

// checkCounts makes a fast but wrong sync fail the benchmark: the figures count only when
// every doctor arrived exactly once.
func checkCounts(r workflows.RevalidationSyncResult, o options) error {
	var problems []string
	if r.Outcome != workflows.OutcomeSucceeded {
		problems = append(problems, "outcome "+r.Outcome)
	}
	if r.Connections.Docs != int64(o.doctors) {
		problems = append(problems, fmt.Sprintf("connections docs %d, want %d", r.Connections.Docs, o.doctors))
	}
	if r.GMC.Docs != int64(o.doctors+o.gmcOnly) {
		problems = append(problems, fmt.Sprintf("GMC docs %d, want %d", r.GMC.Docs, o.doctors+o.gmcOnly))
	}
	if r.Counts.Total != int64(o.doctors+o.gmcOnly) {
		problems = append(problems, fmt.Sprintf("index total %d, want %d", r.Counts.Total, o.doctors+o.gmcOnly))
	}
	if len(problems) > 0 {
		return fmt.Errorf("RevalidationSync finished with wrong counts: %s", strings.Join(problems, "; "))
	}
	return nil
}

// phase is one activity of the run, from scheduled to completed (queueing included: that
// is time the run spent on the step).
type phase struct {
	Name    string
	Seconds float64
}

// phases reads the activity times from the run's history, so the report shows where the
// time beyond the two ingests went without instrumenting the workflow.
func phases(ctx context.Context, c client.Client, id, runID string) ([]phase, error) {
	type sched struct {
		name string
		at   time.Time
	}
	scheduled := map[int64]sched{}
	var out []phase
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first, last time.Time
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return out, err
		}
		t := ev.GetEventTime().AsTime()
		if first.IsZero() {
			first = t
		}
		last = t
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = sched{name: a.GetActivityType().GetName(), at: t}
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			if s, ok := scheduled[a.GetScheduledEventId()]; ok {
				out = append(out, phase{Name: s.name, Seconds: t.Sub(s.at).Seconds()})
			}
		}
	}
	if !first.IsZero() {
		sum := 0.0
		for _, p := range out {
			sum += p.Seconds
		}
		out = append(out, phase{Name: "between activities (workflow tasks)", Seconds: last.Sub(first).Seconds() - sum})
	}
	return out, nil
}
