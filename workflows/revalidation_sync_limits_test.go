package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/reval"
)

// A TCS that never finishes: the run's own limit passes during syncData. The ingest is
// cancelled at the deadline, the unused build is dropped, operators are told, and the run
// fails with TimeLimitReached; no later phase starts and the aliases never move.
func TestRevalidationSyncPastItsTimeLimitDuringSyncDataDropsTheBuildNotifiesAndFails(t *testing.T) {
	var env *testsuite.TestWorkflowEnvironment
	var droppedAt time.Time
	env, m := revalEnv(t, func(e *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		e.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).After(20*time.Hour).Return(tcsDone, nil).Maybe()
		e.OnActivity(searchActs.DropSyncIndex, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.SyncIndexInput) error {
				droppedAt = env.Now()
				m.add(func() { m.dropped = append(m.dropped, in.Index) })
				return nil
			}).Once()
	})
	start := env.Now()
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod", TimeLimit: "2h"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
	assert.Equal(t, ErrTimeLimit, app.Type())
	assert.False(t, temporal.IsCanceledError(app), "no CanceledError in the chain: the server would close the run as canceled, not failed")
	assert.Contains(t, app.Error(), "time limit 2h0m0s reached during syncData")
	assert.Contains(t, app.Error(), "the live index keeps serving")
	require.Len(t, m.dropped, 1, "the unused build is dropped")
	assert.InDelta(t, 2*time.Hour, droppedAt.Sub(start), float64(time.Minute), "dropped when the limit passed")
	assert.Zero(t, m.switched, "the aliases never move")
	assert.Equal(t, []string{reval.SyncStartKey + " " + reval.SyncStartCommand}, m.commands, "no later phase started")
	require.Len(t, m.notices, 1, "operators are told")
	assert.Equal(t, ErrTimeLimit, m.notices[0].ErrorType)

	v, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, "failed: syncData", p.Step)
}

// A sync that finishes in time runs exactly as without the limit; its ingests are bounded by
// the time left plus a minute.
func TestRevalidationSyncFinishingInTimeIsUnchanged(t *testing.T) {
	var deadline time.Time
	env, m := revalEnv(t, func(e *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		e.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, _ activities.IngestInput) (activities.IngestResult, error) {
				deadline = activity.GetInfo(ctx).Deadline
				return tcsDone, nil
			}).Once()
	})
	start := env.Now()
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod", TimeLimit: "2h"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, OutcomeSucceeded, res.Outcome)
	assert.Equal(t, 1, m.switched)
	assert.Empty(t, m.dropped)
	assert.Empty(t, m.notices)
	assert.Equal(t, []string{
		reval.SyncStartKey + " " + reval.SyncStartCommand,
		reval.GMCSyncStartKey + " " + reval.GMCSyncStartCommand,
		reval.IndexRebuildKey + " " + reval.GetMasterCommand,
	}, m.commands)
	assert.WithinDuration(t, start.Add(2*time.Hour+time.Minute), deadline, time.Minute,
		"the ingest's ScheduleToClose is the time left plus a minute, not its 12 h StartToClose")
}

// The limit never cuts the alias switch: once it has started, the run ends as it would have.
func TestRevalidationSyncTimeLimitNeverCutsTheSwitch(t *testing.T) {
	env, m := revalEnv(t, func(e *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		e.OnActivity(searchActs.SwitchRevalAliases, mock.Anything, mock.Anything).After(3 * time.Hour).Return(
			func(context.Context, activities.SyncIndexInput) (activities.SwitchResult, error) {
				m.add(func() { m.switched++ })
				return activities.SwitchResult{Previous: []string{"masterdoctorindex-20261101000000"}}, nil
			}).Once()
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod", TimeLimit: "2h"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, OutcomeSucceeded, res.Outcome)
	assert.Equal(t, 1, m.switched)
	assert.Empty(t, m.dropped)
	assert.Empty(t, m.notices)
}

// A run started before the limit existed (replayed after an upgrade) goes on without it.
func TestRevalidationSyncStartedBeforeTheTimeLimitRunsWithoutIt(t *testing.T) {
	env, m := revalEnv(t, func(e *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		e.OnGetVersion(SyncTimeLimitChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		e.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).After(3*time.Hour).Return(tcsDone, nil).Once()
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod", TimeLimit: "2h"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, OutcomeSucceeded, res.Outcome)
	assert.Empty(t, m.dropped)
}

func TestRevalidationSyncExecutionTimeoutLeavesRoomAfterTheLimit(t *testing.T) {
	assert.Equal(t, 23*time.Hour, RevalidationSyncExecutionTimeout(RevalidationSyncDefaultTimeLimit))
	d, err := ParseSyncTimeLimit("")
	require.NoError(t, err)
	assert.Equal(t, 20*time.Hour, d)
	for _, bad := range []string{"soon", "30s", "-1h"} {
		_, err := ParseSyncTimeLimit(bad)
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), bad)
		assert.Equal(t, ErrInvalidInput, app.Type(), bad)
	}
}

// A run that fails for another reason stays that failure, even when its deadline passes
// while it drops the build.
func TestRevalidationSyncFailureIsNotReportedAsATimeoutWhenTheDeadlinePassesDuringTheDrop(t *testing.T) {
	env, m := revalEnv(t, func(e *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		e.OnActivity(searchActs.CheckSyncIndex, mock.Anything, mock.Anything).Return(activities.IndexCounts{},
			temporal.NewNonRetryableApplicationError("new index holds 0 documents", activities.ErrSyncIndexEmpty, nil)).Once()
		e.OnActivity(searchActs.DropSyncIndex, mock.Anything, mock.Anything).After(9 * time.Minute).Return(
			func(_ context.Context, in activities.SyncIndexInput) error {
				m.add(func() { m.dropped = append(m.dropped, in.Index) })
				return nil
			}).Once()
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod", TimeLimit: "5m"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
	assert.Equal(t, activities.ErrSyncIndexEmpty, app.Type())
	assert.Len(t, m.dropped, 1)
	require.Len(t, m.notices, 1)
	assert.Equal(t, activities.ErrSyncIndexEmpty, m.notices[0].ErrorType)
}
