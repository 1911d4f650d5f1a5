package histories

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Answer is the canned outcome of one activity call in a scenario.
type Answer struct {
	// Result is what the activity returns (nil: no result, like an activity returning only error).
	Result any
	// Err is returned instead of a result; use temporal.NewNonRetryableApplicationError with the
	// activity's real error type, so the workflow takes the same branch as in production.
	Err error
	// Hold keeps the activity running, heartbeating, until the scenario lets it go (Scenario
	// run's release) or the workflow cancels it; then it returns Result/Err, or the cancellation.
	Hold bool
}

// Script is a scenario's answers by activity type name (the activity's method name): the
// calls of one type get its answers in order, and the last answer repeats.
type Script map[string][]Answer

// stubs is the one dynamic activity of the recorder's workers: it answers every activity type
// from the script of the calling run (by workflow id), so the recorder names no activity struct
// and needs none of their dependencies. A call the script does not answer fails the run
// (non-retryable ScriptMissing): a scenario never records a history its author did not mean.
type stubs struct {
	mu      sync.Mutex
	scripts map[string]*runScript // by workflow id
}

type runScript struct {
	script  Script
	calls   map[string]int
	held    chan string   // receives the activity type when a Hold answer starts
	release chan struct{} // closed by the scenario to let held activities finish
	missing []string
}

func newStubs() *stubs { return &stubs{scripts: map[string]*runScript{}} }

// add registers the script of a run before it starts.
func (s *stubs) add(workflowID string, script Script) *runScript {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := &runScript{script: script, calls: map[string]int{}, held: make(chan string, 8), release: make(chan struct{})}
	s.scripts[workflowID] = rs
	return rs
}

func (s *stubs) answer(workflowID, activityType string) (Answer, *runScript, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.scripts[workflowID]
	if rs == nil {
		return Answer{}, nil, fmt.Errorf("no script for workflow %s", workflowID)
	}
	answers := rs.script[activityType]
	if len(answers) == 0 {
		rs.missing = append(rs.missing, activityType)
		return Answer{}, rs, fmt.Errorf("the scenario's script has no answer for activity %s", activityType)
	}
	n := rs.calls[activityType]
	rs.calls[activityType]++
	if n >= len(answers) {
		n = len(answers) - 1
	}
	return answers[n], rs, nil
}

// missingAnswers lists the activity types a run called that its script did not answer.
func (s *stubs) missingAnswers(workflowID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs := s.scripts[workflowID]; rs != nil {
		return append([]string(nil), rs.missing...)
	}
	return nil
}

// Execute is registered with worker.RegisterDynamicActivity.
func (s *stubs) Execute(ctx context.Context, _ converter.EncodedValues) (any, error) {
	info := activity.GetInfo(ctx)
	a, rs, err := s.answer(info.WorkflowExecution.ID, info.ActivityType.Name)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "ScriptMissing", nil)
	}
	if a.Hold {
		select {
		case rs.held <- info.ActivityType.Name:
		default:
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for done := false; !done; {
			activity.RecordHeartbeat(ctx)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-rs.release:
				done = true
			case <-tick.C:
			}
		}
	}
	if a.Err != nil {
		return nil, a.Err
	}
	return a.Result, nil
}
