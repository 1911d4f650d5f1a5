package workflows

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

// Task queues of the two ELLA hosts of the seed.
const (
	ellaPrimary  = "ella-p22-ella-01"
	ellaFailover = "ella-p22-ella-fo-01"
)

// ellaHosts is a stand-in for two hosts' supervisords: each activity acts on the host
// whose task queue it ran on. A program in stuck does not stop (a hung process).
type ellaHosts struct {
	mu     sync.Mutex
	states map[string]map[string]string
	stuck  map[string]bool
	calls  []string
}

func newEllaHosts(running, stopped string) *ellaHosts {
	h := &ellaHosts{states: map[string]map[string]string{running: {}, stopped: {}}, stuck: map[string]bool{}}
	for _, p := range ella.Programs {
		h.states[running][p], h.states[stopped][p] = "RUNNING", "STOPPED"
	}
	return h
}

func (h *ellaHosts) env(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.EllaActivities{})
	env.RegisterWorkflow(EllaFailover)
	queue := func(ctx context.Context, what string) string {
		q := activity.GetInfo(ctx).TaskQueue
		h.calls = append(h.calls, what+" "+q)
		return q
	}
	copyOf := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	env.OnActivity(ellaActs.StopElla, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.EllaProgramsInput) (activities.EllaProgramsResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			q := queue(ctx, "stop")
			for _, p := range in.Programs {
				if !h.stuck[p] {
					h.states[q][p] = "STOPPED"
				}
			}
			return activities.EllaProgramsResult{States: copyOf(h.states[q])}, nil
		}).Maybe()
	env.OnActivity(ellaActs.StartElla, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.EllaProgramsInput) (activities.EllaProgramsResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			q := queue(ctx, "start")
			for _, p := range in.Programs {
				h.states[q][p] = "RUNNING"
			}
			return activities.EllaProgramsResult{States: copyOf(h.states[q])}, nil
		}).Maybe()
	env.OnActivity(ellaActs.EllaProgramStates, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.EllaProgramStatesInput) (activities.EllaProgramsResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			q := queue(ctx, "states")
			if in.RequireStopped {
				for _, p := range ella.Programs {
					if !ella.Stopped(h.states[q][p]) {
						return activities.EllaProgramsResult{}, temporal.NewNonRetryableApplicationError(
							"ELLA still runs: "+p, activities.ErrEllaStillRunning, nil)
					}
				}
			}
			return activities.EllaProgramsResult{States: copyOf(h.states[q])}, nil
		}).Maybe()
	env.OnActivity(ellaActs.EllaBroadcast, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.EllaBroadcastInput) (activities.EllaBroadcastResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			queue(ctx, "broadcast")
			assert.Equal(t, ella.FailoverMessage, in.Message)
			return activities.EllaBroadcastResult{ID: 7}, nil
		}).Maybe()
	return env
}

func allStates(state string) map[string]string {
	m := map[string]string{}
	for _, p := range ella.Programs {
		m[p] = state
	}
	return m
}

func TestEllaFailoverMovesELLA(t *testing.T) {
	h := newEllaHosts(ellaPrimary, ellaFailover)
	env := h.env(t)
	env.ExecuteWorkflow(EllaFailover, ella.FailoverInput{From: ellaPrimary, To: ellaFailover, Reason: "p22-ella-01 is slow"})
	require.NoError(t, env.GetWorkflowError())
	var res EllaFailoverResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"stop " + ellaPrimary, "states " + ellaPrimary, "start " + ellaFailover, "states " + ellaFailover,
		"broadcast " + ellaFailover}, h.calls, "each step on its host's task queue, the stop confirmed before the start")
	assert.Equal(t, allStates("STOPPED"), res.Stopped)
	assert.Equal(t, allStates("RUNNING"), res.Started)
	assert.Equal(t, int64(7), res.BroadcastID)
	assert.Equal(t, "p22-ella-01 is slow", res.Reason)
	assert.Len(t, res.Steps, 5)
	assert.Equal(t, allStates("STOPPED"), h.states[ellaPrimary])
	assert.Equal(t, allStates("RUNNING"), h.states[ellaFailover])
}

func TestEllaFailoverRefusedWhileThePrimaryRuns(t *testing.T) {
	h := newEllaHosts(ellaPrimary, ellaFailover)
	h.stuck["api"] = true
	env := h.env(t)
	env.ExecuteWorkflow(EllaFailover, ella.FailoverInput{From: ellaPrimary, To: ellaFailover})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, ErrEllaFailoverRefused, app.Type())
	assert.True(t, app.NonRetryable())
	assert.Contains(t, app.Error(), "nothing started on "+ellaFailover)
	assert.Contains(t, app.Error(), "ELLA still runs: api")
	assert.Equal(t, []string{"stop " + ellaPrimary, "states " + ellaPrimary}, h.calls, "nothing ran on the failover host")
	assert.Equal(t, allStates("STOPPED"), h.states[ellaFailover])
	var res EllaFailoverResult
	require.NoError(t, app.Details(&res))
	require.Len(t, res.Steps, 2)
	assert.Equal(t, ella.StepFailed, res.Steps[1].Status)
}

func TestEllaFailoverFailsBack(t *testing.T) {
	// After a failover ELLA runs on the failover host; failing back swaps From and To.
	h := newEllaHosts(ellaFailover, ellaPrimary)
	env := h.env(t)
	env.ExecuteWorkflow(EllaFailover, ella.FailoverInput{From: ellaFailover, To: ellaPrimary, Deactivate: []int64{7}})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, []string{"stop " + ellaFailover, "states " + ellaFailover, "start " + ellaPrimary, "states " + ellaPrimary,
		"broadcast " + ellaPrimary}, h.calls)
	assert.Equal(t, allStates("RUNNING"), h.states[ellaPrimary])
	assert.Equal(t, allStates("STOPPED"), h.states[ellaFailover])
}

func TestEllaFailoverRefusesInput(t *testing.T) {
	h := newEllaHosts(ellaPrimary, ellaFailover)
	for _, in := range []ella.FailoverInput{{From: ellaPrimary, To: ellaPrimary}, {From: "", To: ellaFailover}, {From: ellaPrimary, To: ellaFailover, Message: "-x"}} {
		env := h.env(t)
		env.ExecuteWorkflow(EllaFailover, in)
		var app *temporal.ApplicationError
		require.ErrorAs(t, env.GetWorkflowError(), &app)
		assert.Equal(t, ErrInvalidInput, app.Type())
	}
	assert.Empty(t, h.calls)
}
