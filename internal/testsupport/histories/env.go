package histories

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// Sites are the sites of the recorded releases; each has a task queue of its own, as in
// production (<task-queue>-site-<site>), polled by the recorder.
var Sites = []string{"nsc", "tsd"}

// Env is what scenarios play with: the client, the recorder's queues and the stub scripts.
type Env struct {
	Client    client.Client
	TaskQueue string
	Label     string
	// Stamp makes this recording's workflow ids and site queues unique on a shared server.
	Stamp string
	stubs *stubs
}

// SiteQueue is a site's task queue in this recording.
func (e *Env) SiteQueue(site string) string { return e.TaskQueue + "-" + e.Stamp + "-site-" + site }

// ID is a workflow id for a scenario's run: the production id (so the history looks like a
// real run's) with the label, the scenario and the stamp appended.
func (e *Env) ID(base, scenario string) string {
	return base + "-record-" + e.Label + "-" + scenario + "-" + e.Stamp
}

func (e *Env) startWorkers() (stop func(), err error) {
	queues := []string{e.TaskQueue}
	for _, s := range Sites {
		queues = append(queues, e.SiteQueue(s))
	}
	var started []worker.Worker
	stop = func() {
		for _, w := range started {
			w.Stop()
		}
	}
	for _, q := range queues {
		// Heartbeats every 100ms reach the server promptly, so a held activity sees a
		// cancellation (an abort) at once.
		w := worker.New(e.Client, q, worker.Options{MaxHeartbeatThrottleInterval: 100 * time.Millisecond})
		for _, wf := range Workflows {
			w.RegisterWorkflow(wf)
		}
		w.RegisterDynamicActivity(e.stubs.Execute, activity.DynamicRegisterOptions{})
		if err := w.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start the recorder's worker on %s: %w", q, err)
		}
		started = append(started, w)
	}
	return stop, nil
}

// Start registers the run's script and starts the workflow on the recorder's task queue.
// The returned handle lets the scenario wait for a held activity and release it.
func (e *Env) Start(ctx context.Context, opts client.StartWorkflowOptions, script Script, wf any, args ...any) (client.WorkflowRun, *Held, error) {
	if opts.TaskQueue == "" {
		opts.TaskQueue = e.TaskQueue
	}
	rs := e.stubs.add(opts.ID, script)
	run, err := e.Client.ExecuteWorkflow(ctx, opts, wf, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", opts.ID, err)
	}
	return run, &Held{rs: rs}, nil
}

// Held is a run's held activities (Answer.Hold).
type Held struct{ rs *runScript }

// Wait waits until a held activity of the run is running and returns its type.
func (h *Held) Wait(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	select {
	case name := <-h.rs.held:
		return name, nil
	case <-ctx.Done():
		return "", fmt.Errorf("no held activity started: %w", ctx.Err())
	}
}

// Release lets the run's held activities finish with their answer.
func (h *Held) Release() { close(h.rs.release) }
