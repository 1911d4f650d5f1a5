package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
)

type rollbackMocks struct {
	moved   []activities.RevalRollbackAliasesInput
	notices []activities.Notice
	// attrs are the search attributes as upserted, last value per key.
	attrs map[string]string
}

var rollbackPlan = activities.RevalRollbackPlan{From: "masterdoctorindex-20261123101112", To: "masterdoctorindex-20261116090000",
	FromCount: 90, ToCount: 105}

func rollbackEnv(t *testing.T, override func(env *testsuite.TestWorkflowEnvironment)) (*testsuite.TestWorkflowEnvironment, *rollbackMocks) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.SearchIndexActivities{})
	env.RegisterActivity(&activities.NotifyActivities{})
	m := &rollbackMocks{attrs: map[string]string{}}
	if override != nil {
		override(env)
	}
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		for _, key := range []temporal.SearchAttributeKeyKeyword{ProcedureKey, EnvironmentKey, OutcomeKey} {
			if v, ok := sa.GetKeyword(key); ok {
				m.attrs[key.GetName()] = v
			}
		}
	}).Return(nil)
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) (string, error) {
			m.notices = append(m.notices, n)
			return "ok", nil
		}).Maybe()
	env.OnActivity(searchActs.PreviousServedBuild, mock.Anything, activities.RevalRollbackInput{Environment: "prod"}).Return(rollbackPlan, nil).Maybe()
	env.OnActivity(searchActs.RollbackRevalAliases, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RevalRollbackAliasesInput) (activities.RevalRollbackResult, error) {
			m.moved = append(m.moved, in)
			return activities.RevalRollbackResult{From: in.From, To: in.To, Count: 105, CurrentConnections: 96, Discrepancies: 6}, nil
		}).Maybe()
	return env, m
}

func TestRevalidationRollbackMovesTheAliasesBackToThePreviousBuildThatServed(t *testing.T) {
	env, m := rollbackEnv(t, nil)
	env.ExecuteWorkflow(RevalidationRollback, RevalidationRollbackInput{Environment: "prod"})
	require.NoError(t, env.GetWorkflowError())
	var res RevalidationRollbackResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, RevalidationRollbackResult{Environment: "prod", From: rollbackPlan.From, FromCount: 90, To: rollbackPlan.To,
		Count: 105, CurrentConnections: 96, Discrepancies: 6, Outcome: OutcomeSucceeded}, res)
	assert.Equal(t, []activities.RevalRollbackAliasesInput{{Environment: "prod", From: rollbackPlan.From, To: rollbackPlan.To}}, m.moved,
		"one alias move, exactly as planned")
	assert.Equal(t, map[string]string{"OpsflowProcedure": "RevalidationRollback", "OpsflowEnvironment": "prod", "OpsflowOutcome": OutcomeSucceeded}, m.attrs)
	assert.Empty(t, m.notices)
	assert.Equal(t, "revalidation-rollback-prod", RevalidationRollbackWorkflowID("prod"))

	v, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, "RevalidationRollback", p.Procedure)
	assert.Equal(t, "done", p.Step)
	assert.Equal(t, int64(105), p.Counts["total"])
}

func TestRevalidationRollbackIsRefusedWhenNoBuildThatServedIsLeft(t *testing.T) {
	refusal := "prod: no previous build that served is left to roll back to; masterdoctorindex-20261123101112 keeps serving"
	env, m := rollbackEnv(t, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(searchActs.PreviousServedBuild, mock.Anything, mock.Anything).Return(activities.RevalRollbackPlan{},
			temporal.NewNonRetryableApplicationError(refusal, activities.ErrNoServedBuild, nil)).Once()
	})
	env.ExecuteWorkflow(RevalidationRollback, RevalidationRollbackInput{Environment: "prod"})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	assert.Equal(t, activities.ErrNoServedBuild, app.Type())
	assert.True(t, app.NonRetryable(), "refused, not retried")
	assert.Contains(t, err.Error(), refusal)
	assert.Empty(t, m.moved, "no alias moved")
	assert.Equal(t, OutcomeFailed, m.attrs["OpsflowOutcome"])
	require.Len(t, m.notices, 1)
	assert.Equal(t, activities.ErrNoServedBuild, m.notices[0].ErrorType)
}

func TestRevalidationRollbackFailsWhenTheAliasMoveIsRefused(t *testing.T) {
	env, m := rollbackEnv(t, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(searchActs.RollbackRevalAliases, mock.Anything, mock.Anything).Return(activities.RevalRollbackResult{},
			temporal.NewNonRetryableApplicationError("prod: the previous build masterdoctorindex-20261116090000 no longer exists",
				activities.ErrRollbackTargetUnusable, nil)).Once()
	})
	env.ExecuteWorkflow(RevalidationRollback, RevalidationRollbackInput{Environment: "prod"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
	assert.Equal(t, activities.ErrRollbackTargetUnusable, app.Type())
	assert.Equal(t, OutcomeFailed, m.attrs["OpsflowOutcome"])
	v, err := env.QueryWorkflow(ProgressQuery)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, "failed: move the aliases back", p.Step)
}

func TestRevalidationRollbackRequiresAnEnvironment(t *testing.T) {
	env, m := rollbackEnv(t, nil)
	env.ExecuteWorkflow(RevalidationRollback, RevalidationRollbackInput{})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
	assert.Equal(t, ErrInvalidInput, app.Type())
	assert.Empty(t, m.moved)
}
