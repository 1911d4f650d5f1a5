package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/reval"
)

// syncMocks records what a mocked revalidation sync did.
type syncMocks struct {
	mu        sync.Mutex
	commands  []string
	switched  int
	dropped   []string
	ingestHit int
	notices   []activities.Notice
	// order is the GMC leg's steps as they ran: clear, commands, ingest.
	order []string
	gmcIn activities.IngestInput
}

func (m *syncMocks) add(f func()) { m.mu.Lock(); defer m.mu.Unlock(); f() }

var (
	clearedAt = time.Date(2026, 11, 23, 10, 30, 0, 123*int(time.Millisecond), time.UTC)
	tcsDone   = activities.IngestResult{Messages: 100, Docs: 100, Announced: 100, Attempt: 1}
	gmcDone   = activities.IngestResult{Messages: 105, Docs: 105, Announced: 105, Created: 5, Attempt: 1}
	counted   = activities.IndexCounts{Total: 105, WithTCS: 100, WithGMC: 105, CurrentConnections: 94, Discrepancies: 5, LiveCount: 98}
)

// revalEnv mocks every activity of a successful sync; tests override single steps
// with their own OnActivity registered first (testify uses the first match).
func revalEnv(t *testing.T, override func(env *testsuite.TestWorkflowEnvironment, m *syncMocks)) (*testsuite.TestWorkflowEnvironment, *syncMocks) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.SearchIndexActivities{})
	env.RegisterActivity(&activities.RabbitActivities{})
	env.RegisterActivity(&activities.SQSActivities{})
	env.RegisterActivity(&activities.NotifyActivities{})
	m := &syncMocks{}
	if override != nil {
		override(env, m)
	}
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) (string, error) {
			m.add(func() { m.notices = append(m.notices, n) })
			return "ok", nil
		}).Maybe()
	env.OnActivity(searchActs.CreateSyncIndex, mock.Anything, mock.Anything).Return(
		activities.LiveIndexState{Indices: []string{"masterdoctorindex-20261101000000"}, Count: 98}, nil).Maybe()
	env.OnActivity(rabbitActs.ClearSyncData, mock.Anything).Return(activities.ClearResult{}, nil).Maybe()
	env.OnActivity(rabbitActs.PublishRevalCommand, mock.Anything, mock.Anything).Return(
		func(_ context.Context, c activities.CommandInput) error {
			m.add(func() {
				m.commands = append(m.commands, c.RoutingKey+" "+c.Command)
				m.order = append(m.order, c.Command)
			})
			return nil
		}).Maybe()
	env.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).Return(tcsDone, nil).Maybe()
	env.OnActivity(sqsActs.ClearGMCQueue, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ClearGMCInput) (activities.GMCClearResult, error) {
			m.add(func() { m.order = append(m.order, "clear "+in.Queue) })
			return activities.GMCClearResult{Cleared: 3, NotBefore: clearedAt}, nil
		}).Maybe()
	env.OnActivity(sqsActs.IngestGMC, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.IngestInput) (activities.IngestResult, error) {
			m.add(func() {
				m.order = append(m.order, "IngestGMC")
				m.gmcIn = in
			})
			return gmcDone, nil
		}).Maybe()
	env.OnActivity(searchActs.CheckSyncIndex, mock.Anything, mock.Anything).Return(counted, nil).Maybe()
	env.OnActivity(searchActs.SwitchRevalAliases, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SyncIndexInput) (activities.SwitchResult, error) {
			m.add(func() { m.switched++ })
			return activities.SwitchResult{Previous: []string{"masterdoctorindex-20261101000000"}}, nil
		}).Maybe()
	env.OnActivity(searchActs.CleanupSyncIndexes, mock.Anything, mock.Anything).Return(
		activities.CleanupResult{Deleted: []string{"masterdoctorindex-20261001000000"}, Kept: []string{"masterdoctorindex-20261101000000"}}, nil).Maybe()
	env.OnActivity(searchActs.DropSyncIndex, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SyncIndexInput) error {
			m.add(func() { m.dropped = append(m.dropped, in.Index) })
			return nil
		}).Maybe()
	return env, m
}

func TestRevalidationSyncBuildsChecksAndSwitchesOnce(t *testing.T) {
	var checked activities.CheckInput
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnActivity(searchActs.CheckSyncIndex, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.CheckInput) (activities.IndexCounts, error) {
				checked = in
				return counted, nil
			}).Once()
	})
	env.SetStartTime(time.Date(2026, 11, 23, 10, 11, 12, 0, time.UTC))
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, "masterdoctorindex-20261123101112", res.Index, "a new timestamped build, the live index untouched")
	assert.Equal(t, OutcomeSucceeded, res.Outcome)
	assert.Equal(t, tcsDone, res.Connections)
	assert.Equal(t, gmcDone, res.GMC)
	assert.Equal(t, counted, res.Counts)
	assert.Equal(t, []string{"masterdoctorindex-20261101000000"}, res.Previous)
	assert.Equal(t, []string{"masterdoctorindex-20261001000000"}, res.Cleanup.Deleted)
	assert.Empty(t, res.Warnings)
	assert.Equal(t, activities.CheckInput{Index: res.Index, Connections: 100, GMC: 105, ReceivedConnections: 100, MaxShrink: 0.1}, checked,
		"the check reconciles against the producers' announced counts")
	assert.Equal(t, []string{
		reval.SyncStartKey + " " + reval.SyncStartCommand,
		reval.GMCSyncStartKey + " " + reval.GMCSyncStartCommand,
		reval.IndexRebuildKey + " " + reval.GetMasterCommand,
	}, m.commands)
	assert.Equal(t, 1, m.switched)
	assert.Empty(t, m.dropped)
	assert.Empty(t, m.notices)

	v, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, "done", p.Step)
	assert.Equal(t, int64(100), p.Counts["connections"])
	assert.Equal(t, int64(105), p.Counts["gmc"])
	assert.Equal(t, int64(94), p.Counts["currentConnections"])
}

// Nothing an earlier run left on the GMC queue may answer this run's gmcSyncStart: the queue
// is cleared first and the ingest drops what SQS accepted before the clear.
func TestRevalidationSyncClearsTheGMCQueueBeforeGMCSyncStart(t *testing.T) {
	env, m := revalEnv(t, nil)
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []string{reval.SyncStartCommand, "clear " + reval.GMCSyncQueue("prod"), reval.GMCSyncStartCommand, "IngestGMC", reval.GetMasterCommand}, m.order)
	assert.Equal(t, clearedAt, m.gmcIn.NotBefore, "the ingest refuses what predates the clear, on the queue's clock")
	assert.Equal(t, reval.GMCSyncQueue("prod"), m.gmcIn.Queue)
	assert.Equal(t, int64(3), res.GMCCleared)
	assert.Equal(t, OutcomeSucceeded, res.Outcome)
}

// A run started by a worker without the clear (before the "purge-gmc-queue" change) goes on
// without it after an upgrade: the replayed history has no clear, so none is scheduled.
func TestRevalidationSyncStartedBeforeTheGMCClearRunsWithoutIt(t *testing.T) {
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnGetVersion(PurgeGMCQueueChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []string{reval.SyncStartCommand, reval.GMCSyncStartCommand, "IngestGMC", reval.GetMasterCommand}, m.order)
	assert.True(t, m.gmcIn.NotBefore.IsZero(), "the old ingest input: every message accepted")
	assert.Zero(t, res.GMCCleared)
	assert.Equal(t, OutcomeSucceeded, res.Outcome)
}

func TestRevalidationSyncFailsWhenTheGMCQueueCannotBeClearedAndNeverSendsGMCSyncStart(t *testing.T) {
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnActivity(sqsActs.ClearGMCQueue, mock.Anything, mock.Anything).Return(activities.GMCClearResult{},
			temporal.NewNonRetryableApplicationError("sqs receive: AccessDenied", "AccessDenied", nil))
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	require.Error(t, env.GetWorkflowError())
	assert.Equal(t, []string{reval.SyncStartCommand}, m.order, "no gmcSyncStart onto a queue that may hold an earlier run's answer")
	assert.Zero(t, m.switched)
	assert.Len(t, m.dropped, 1)
}

func TestRevalidationSyncRefusesAnEmptyTCSAnswerAndKeepsTheLiveIndex(t *testing.T) {
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).Return(
			activities.IngestResult{Messages: 0, Docs: 0, Announced: 0, Attempt: 1}, nil).Once()
		env.OnActivity(searchActs.CheckSyncIndex, mock.Anything, mock.Anything).Return(activities.IndexCounts{LiveCount: 98},
			temporal.NewNonRetryableApplicationError("new index holds 0 documents", activities.ErrSyncIndexEmpty, nil)).Once()
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
	assert.Equal(t, activities.ErrSyncIndexEmpty, app.Type())
	assert.Zero(t, m.switched, "no alias switch on an empty build")
	require.Len(t, m.dropped, 1, "the unused build is dropped")
	assert.NotContains(t, m.commands, reval.IndexRebuildKey+" "+reval.GetMasterCommand)
	require.Len(t, m.notices, 1)
	assert.Equal(t, activities.ErrSyncIndexEmpty, m.notices[0].ErrorType)
}

func TestRevalidationSyncRetriesAnIngestThatFailedMidBulk(t *testing.T) {
	attempts := 0
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, in activities.IngestInput) (activities.IngestResult, error) {
				attempts++
				if attempts == 1 {
					// Elasticsearch went away half-way through a bulk: nothing was acked.
					return activities.IngestResult{}, errors.New("esclient: bulk index into \"masterdoctorindex-x\" (docs 0..999): connection reset by peer")
				}
				return activities.IngestResult{Messages: 130, Docs: 100, Announced: 100, Attempt: 2}, nil
			})
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 2, attempts)
	assert.Equal(t, int64(100), res.Connections.Docs, "re-delivered messages overwrite: the count is still exact")
	assert.Equal(t, int64(130), res.Connections.Messages)
	assert.Equal(t, 1, m.switched)
}

func TestRevalidationSyncAbortSignalDropsTheBuildAndNeverSwitches(t *testing.T) {
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnActivity(rabbitActs.IngestConnections, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, in activities.IngestInput) (activities.IngestResult, error) {
				m.add(func() { m.ingestHit++ })
				select {
				case <-ctx.Done():
					return activities.IngestResult{}, ctx.Err()
				case <-time.After(20 * time.Second):
					return activities.IngestResult{}, errors.New("the abort never reached the ingest")
				}
			})
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(AbortName, "wrong data in TCS") }, time.Second)
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod", HeartbeatTimeout: "5s"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, OutcomeAborted, res.Outcome)
	assert.Equal(t, "wrong data in TCS", res.AbortReason)
	assert.Zero(t, m.switched)
	assert.Equal(t, []string{res.Index}, m.dropped)
	assert.Equal(t, []string{reval.SyncStartKey + " " + reval.SyncStartCommand}, m.commands, "no later phase started")
	assert.Empty(t, m.notices, "an operator's abort is not a failure")
}

func TestRevalidationSyncAbortUpdateIsAcceptedBeforeTheSwitchAndRefusedAfter(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
			env.OnActivity(sqsActs.IngestGMC, mock.Anything, mock.Anything).Return(
				func(ctx context.Context, in activities.IngestInput) (activities.IngestResult, error) {
					<-ctx.Done()
					return activities.IngestResult{}, ctx.Err()
				})
		})
		var answer string
		var rejected error
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(AbortName, "u1", &testsuite.TestUpdateCallback{
				OnAccept:   func() {},
				OnReject:   func(err error) { rejected = err },
				OnComplete: func(v any, err error) { answer, _ = v.(string) },
			}, "maintenance window over")
		}, time.Second)
		env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
		require.NoError(t, env.GetWorkflowError())
		require.NoError(t, rejected)
		assert.Contains(t, answer, "aborting")
		var res RevalidationSyncResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.Equal(t, OutcomeAborted, res.Outcome)
		assert.Zero(t, m.switched)
		assert.Len(t, m.dropped, 1)
	})
	t.Run("after the switch started", func(t *testing.T) {
		var rejected error
		var env *testsuite.TestWorkflowEnvironment
		env, m := revalEnv(t, func(e *testsuite.TestWorkflowEnvironment, m *syncMocks) {
			e.OnActivity(searchActs.SwitchRevalAliases, mock.Anything, mock.Anything).After(2*time.Second).Return(
				activities.SwitchResult{Previous: []string{"masterdoctorindex-20261101000000"}}, nil).Once()
		})
		// The switch takes 2 s of workflow time; the update comes during it.
		env.OnActivity(searchActs.CleanupSyncIndexes, mock.Anything, mock.Anything).Return(activities.CleanupResult{}, nil)
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(AbortName, "u2", &testsuite.TestUpdateCallback{
				OnAccept:   func() { t.Error("an abort after the switch started must be rejected") },
				OnReject:   func(err error) { rejected = err },
				OnComplete: func(any, error) {},
			}, "too late")
		}, time.Second)
		env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
		require.NoError(t, env.GetWorkflowError())
		require.Error(t, rejected)
		assert.Contains(t, rejected.Error(), "too late")
		var res RevalidationSyncResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.Equal(t, OutcomeSucceeded, res.Outcome)
		assert.Empty(t, m.dropped)
	})
}

func TestRevalidationSyncWarnsWhenTheRebuildCommandCannotBePublished(t *testing.T) {
	env, m := revalEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *syncMocks) {
		env.OnActivity(rabbitActs.PublishRevalCommand, mock.Anything,
			activities.CommandInput{RoutingKey: reval.IndexRebuildKey, Command: reval.GetMasterCommand}).Return(
			temporal.NewNonRetryableApplicationError("publish: returned unroutable", "Unroutable", nil))
	})
	env.ExecuteWorkflow(RevalidationSync, RevalidationSyncInput{Environment: "prod"})
	require.NoError(t, env.GetWorkflowError(), "the new index serves; the run reports the warning")
	var res RevalidationSyncResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, 1, m.switched)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "index rebuild command not published")
	assert.Len(t, m.notices, 1, "operators hear about it")
}

func TestRevalidationSyncRefusesBadInput(t *testing.T) {
	for name, in := range map[string]RevalidationSyncInput{
		"no environment": {},
		"bad duration":   {Environment: "prod", IdleTimeout: "soon"},
		"bad shrink":     {Environment: "prod", MaxShrink: ptr(1.5)},
		"bad time limit": {Environment: "prod", TimeLimit: "30s"},
	} {
		t.Run(name, func(t *testing.T) {
			env, m := revalEnv(t, nil)
			env.ExecuteWorkflow(RevalidationSync, in)
			var app *temporal.ApplicationError
			require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
			assert.Equal(t, ErrInvalidInput, app.Type())
			assert.Empty(t, m.commands)
		})
	}
}

func ptr[T any](v T) *T { return &v }
