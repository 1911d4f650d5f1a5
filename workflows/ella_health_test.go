package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

var ellaHealthChecked = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// ellaHealthCheck is what the stand-in CheckEllaHealth answers: the state before and the
// alerts now (none: ok).
func ellaHealthCheck(previous string, previousAlerts []string, alerts ...string) activities.EllaHealthResult {
	m := ella.HealthMeasurements{Page: ella.Probe{URL: "http://ella/", Status: 200, Millis: 12}, Requests: 40, Status5xx: 30,
		Programs: map[string]string{"nginx": "RUNNING", "api": "RUNNING", "polling": "RUNNING", "analysis-watcher": "RUNNING"}}
	return activities.EllaHealthResult{Previous: previous, PreviousAlerts: previousAlerts,
		Report: ella.HealthReport{Checked: ellaHealthChecked, Status: ella.StatusOf(alerts), Alerts: alerts, Measurements: m}}
}

type ellaHealthRun struct {
	res   *EllaHealthResult
	err   error
	mails []activities.EllaMailInput
	memo  map[string]any
	query *EllaHealthResult
}

// runEllaHealth runs EllaHealth with CheckEllaHealth answering check (mailErr: SendEllaMail fails).
func runEllaHealth(t *testing.T, check activities.EllaHealthResult, mailErr error) ellaHealthRun {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.EllaActivities{})
	env.RegisterWorkflow(EllaHealth)
	var mu sync.Mutex
	run := ellaHealthRun{}
	env.OnActivity(ellaActs.CheckEllaHealth, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.EllaHealthInput) (activities.EllaHealthResult, error) {
			assert.Equal(t, 2000, in.Thresholds.PageMillis)
			assert.Equal(t, ellaPrimary, activity.GetInfo(ctx).TaskQueue, "the check runs on the ELLA host")
			return check, nil
		})
	env.OnActivity(ellaActs.SendEllaMail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaMailInput) (activities.EllaMailResult, error) {
			mu.Lock()
			defer mu.Unlock()
			run.mails = append(run.mails, in)
			if mailErr != nil {
				return activities.EllaMailResult{}, mailErr
			}
			return activities.EllaMailResult{MessageID: "<health@x>"}, nil
		}).Maybe()
	env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) { run.memo = args.Get(0).(map[string]any) }).Return(nil)
	env.ExecuteWorkflow(EllaHealth, ella.HealthInput{Thresholds: ella.HealthThresholds{PageMillis: 2000}, To: []string{"ella-drift@ous.test"}, TaskQueue: ellaPrimary})
	require.True(t, env.IsWorkflowCompleted())
	run.err = env.GetWorkflowError()
	if run.err == nil {
		require.NoError(t, env.GetWorkflowResult(&run.res))
		v, err := env.QueryWorkflow(ella.HealthQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&run.query))
	}
	return run
}

func TestEllaHealthOKSendsNothing(t *testing.T) {
	for _, prev := range []string{ella.HealthUnknown, ella.HealthOK} {
		run := runEllaHealth(t, ellaHealthCheck(prev, nil), nil)
		require.NoError(t, run.err)
		assert.Empty(t, run.mails, "previous %q", prev)
		assert.Equal(t, ella.HealthOK, run.res.Report.Status)
		assert.Equal(t, ella.TransitionNone, run.res.Transition)
		assert.Equal(t, run.res, run.query, "the health query answers the report")
		require.Contains(t, run.memo, ella.HealthMemo)
		assert.Equal(t, ella.HealthOK, run.memo[ella.HealthMemo].(ellaHealthMemo).Status)
	}
}

func TestEllaHealthAlertRaisedOnce(t *testing.T) {
	alert := "36 of 40 requests answered 5xx (90.0%, limit 5.0%)"
	for _, prev := range []string{ella.HealthUnknown, ella.HealthOK} {
		run := runEllaHealth(t, ellaHealthCheck(prev, nil, alert), nil)
		require.NoError(t, run.err)
		require.Len(t, run.mails, 1)
		m := run.mails[0]
		assert.Equal(t, activities.EllaMailHealthAlert, m.Template)
		assert.Equal(t, []string{"ella-drift@ous.test"}, m.To)
		assert.Contains(t, m.Detail, alert, "the evidence")
		assert.Contains(t, m.Detail, "5xx: 30")
		assert.Equal(t, ella.TransitionRaised, run.res.Transition)
		assert.Equal(t, "<health@x>", run.res.Mailed)
		assert.Equal(t, []string{alert}, run.memo[ella.HealthMemo].(ellaHealthMemo).Alerts)
		assert.Equal(t, run.res, run.query)
	}
}

func TestEllaHealthStillAlertingSendsNothing(t *testing.T) {
	run := runEllaHealth(t, ellaHealthCheck(ella.HealthAlert, []string{"old"}, "supervisord program polling is STOPPED"), nil)
	require.NoError(t, run.err)
	assert.Empty(t, run.mails, "no alert storm")
	assert.Equal(t, ella.HealthAlert, run.res.Report.Status)
	assert.Equal(t, ella.TransitionNone, run.res.Transition)
	assert.Equal(t, ella.HealthAlert, run.memo[ella.HealthMemo].(ellaHealthMemo).Status)
}

func TestEllaHealthClearedOnce(t *testing.T) {
	run := runEllaHealth(t, ellaHealthCheck(ella.HealthAlert, []string{"supervisord program polling is STOPPED"}), nil)
	require.NoError(t, run.err)
	require.Len(t, run.mails, 1)
	assert.Equal(t, activities.EllaMailHealthCleared, run.mails[0].Template)
	assert.Contains(t, run.mails[0].Detail, "Varslet tidligere:\n- supervisord program polling is STOPPED")
	assert.Equal(t, ella.TransitionCleared, run.res.Transition)
}

func TestEllaHealthMailFailureFailsTheRun(t *testing.T) {
	run := runEllaHealth(t, ellaHealthCheck(ella.HealthOK, nil, "page down"),
		temporal.NewNonRetryableApplicationError("refused", activities.ErrEllaMailRefused, nil))
	require.Error(t, run.err)
	assert.Len(t, run.mails, 1)
}

func TestEllaHealthRefusesInput(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.EllaActivities{})
	env.ExecuteWorkflow(EllaHealth, ella.HealthInput{Thresholds: ella.HealthThresholds{Max5xxPercent: 150}})
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, ErrInvalidInput, app.Type())
	assert.Contains(t, app.Error(), "no recipient")
	assert.Contains(t, app.Error(), "max5xxPercent")
}
