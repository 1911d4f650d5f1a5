// Package workflows holds one file per runbook. Code here is deterministic: no I/O, no
// wall clock, no goroutines; activities do the work.
package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// ProgressQuery is the query every runbook answers, so operators ask all of them the same way.
const ProgressQuery = "progress"

// Progress is the common answer of the progress query.
type Progress struct {
	Procedure string `json:"procedure"`
	// Step is the step the run is on now, or its end state.
	Step string `json:"step"`
	// Sites is the current step per site, for runbooks that work on several.
	Sites map[string]string `json:"sites,omitempty"`
	// Counts are the runbook's running totals (documents, files, messages).
	Counts map[string]int64 `json:"counts,omitempty"`
	// WaitingOn says what the run waits for (a person, a timer, a service), if anything.
	WaitingOn string    `json:"waitingOn,omitempty"`
	Error     string    `json:"error,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// tracker keeps a run's progress and answers the query.
type tracker struct {
	ctx      workflow.Context
	p        Progress
	changes  int // bumped on every step, for the stuck watchdog
	done     bool
	notified map[string]bool
}

func newTracker(ctx workflow.Context, procedure string) (*tracker, error) {
	t := &tracker{ctx: ctx, notified: map[string]bool{},
		p: Progress{Procedure: procedure, Step: "starting", Sites: map[string]string{}, Counts: map[string]int64{}}}
	t.p.UpdatedAt = workflow.Now(ctx)
	err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return t.p, nil })
	return t, err
}

func (t *tracker) step(step string) {
	t.changes++
	t.p.Step = step
	t.p.UpdatedAt = workflow.Now(t.ctx)
}

func (t *tracker) site(name, step string) {
	t.changes++
	t.p.Sites[name] = step
	t.p.UpdatedAt = workflow.Now(t.ctx)
}
