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

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

const ellaPrevious = "../archive/releases/ella-release-v1.17.1.sif"

func ellaInput() ella.DeployInput {
	return ella.DeployInput{Version: "v1.17.2", Image: "ella-release-v1.17.2.sif",
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", UserGroups: "usergroups.json",
		Window: "tirsdag 16–18", AcceptanceWithin: "24h", RemindEvery: "8h",
		Users: []string{"users@example.org"}, Testers: []string{"tester@example.org"}}
}

// ellaMocks records what the stand-in activities were asked, in order.
type ellaMocks struct {
	mu         sync.Mutex
	calls      []string
	mails      []activities.EllaMailInput
	broadcasts []activities.EllaBroadcastInput
	switches   []activities.EllaSwitchInput
	restores   []string
	nextID     int64
}

func (m *ellaMocks) add(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

func (m *ellaMocks) templates() []string {
	var out []string
	for _, x := range m.mails {
		out = append(out, x.Template)
	}
	return out
}

// ellaEnv gives a test environment whose ELLA activities succeed (a migration is due);
// override registers a test's own expectations first, so they win.
func ellaEnv(t *testing.T, override func(env *testsuite.TestWorkflowEnvironment, m *ellaMocks)) (*testsuite.TestWorkflowEnvironment, *ellaMocks) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.EllaActivities{})
	env.RegisterWorkflow(EllaDeploy)
	m := &ellaMocks{}
	if override != nil {
		override(env, m)
	}
	call := func(name string) { m.add(func() { m.calls = append(m.calls, name) }) }
	env.OnActivity(ellaActs.CheckEllaRelease, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaCheckInput) (activities.EllaCheckResult, error) {
			call("check")
			return activities.EllaCheckResult{CurrentTarget: ellaPrevious, MigrationDue: true}, nil
		}).Maybe()
	env.OnActivity(ellaActs.SendEllaMail, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaMailInput) (activities.EllaMailResult, error) {
			m.add(func() { m.calls = append(m.calls, "mail "+in.Template); m.mails = append(m.mails, in) })
			return activities.EllaMailResult{MessageID: "<id@x>"}, nil
		}).Maybe()
	env.OnActivity(ellaActs.EllaBroadcast, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaBroadcastInput) (activities.EllaBroadcastResult, error) {
			var id int64
			m.add(func() {
				m.calls = append(m.calls, "broadcast")
				m.broadcasts = append(m.broadcasts, in)
				if in.Message != "" {
					m.nextID++
					id = m.nextID
				}
			})
			return activities.EllaBroadcastResult{ID: id}, nil
		}).Maybe()
	programs := func(name string) func(context.Context, activities.EllaProgramsInput) (activities.EllaProgramsResult, error) {
		return func(_ context.Context, in activities.EllaProgramsInput) (activities.EllaProgramsResult, error) {
			call(name)
			return activities.EllaProgramsResult{}, nil
		}
	}
	env.OnActivity(ellaActs.StopElla, mock.Anything, mock.Anything).Return(programs("stop")).Maybe()
	env.OnActivity(ellaActs.StartElla, mock.Anything, mock.Anything).Return(programs("start")).Maybe()
	env.OnActivity(ellaActs.BackupEllaDatabase, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaBackupInput) (activities.EllaBackupResult, error) {
			call("backup")
			return activities.EllaBackupResult{Path: "backups/" + in.Stamp + ".dump", Size: 100, Entries: 12}, nil
		}).Maybe()
	env.OnActivity(ellaActs.SwitchEllaImage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaSwitchInput) (activities.EllaSwitchResult, error) {
			m.add(func() { m.calls = append(m.calls, "switch"); m.switches = append(m.switches, in) })
			return activities.EllaSwitchResult{Target: in.Target}, nil
		}).Maybe()
	env.OnActivity(ellaActs.MigrateEllaDatabase, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.EllaMigrateInput) (activities.EllaCommandResult, error) {
			call("migrate")
			return activities.EllaCommandResult{}, nil
		}).Maybe()
	env.OnActivity(ellaActs.ApplyEllaConfig, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaConfigInput) (activities.EllaCommandResult, error) {
			call("config " + in.File.Kind)
			return activities.EllaCommandResult{}, nil
		}).Maybe()
	env.OnActivity(ellaActs.RestoreEllaDatabase, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EllaRestoreInput) (activities.EllaCommandResult, error) {
			m.add(func() { m.calls = append(m.calls, "restore"); m.restores = append(m.restores, in.Path) })
			return activities.EllaCommandResult{}, nil
		}).Maybe()
	return env, m
}

// decide sends the acceptance update after delay and keeps what happened to it.
type updateOutcome struct {
	accepted bool
	rejected error
	answer   string
	failed   error
}

func decide(env *testsuite.TestWorkflowEnvironment, id string, d ella.Decision, after time.Duration) *updateOutcome {
	o := &updateOutcome{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(ella.AcceptanceUpdate, id, &testsuite.TestUpdateCallback{
			OnAccept: func() { o.accepted = true },
			OnReject: func(err error) { o.rejected = err },
			OnComplete: func(v any, err error) {
				o.answer, _ = v.(string)
				o.failed = err
			},
		}, d)
	}, after)
	return o
}

var ellaForward = []string{"check", "mail planned", "broadcast", "stop", "backup", "switch", "migrate", "config usergroups", "start", "broadcast", "mail acceptance"}

func TestEllaDeployApproved(t *testing.T) {
	env, m := ellaEnv(t, nil)
	u := decide(env, "a1", ella.Decision{Approved: true, By: "kari", Comment: "alt ok"}, time.Hour)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	require.NoError(t, env.GetWorkflowError())
	var res EllaDeployResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.True(t, u.accepted)
	require.NoError(t, u.failed)
	assert.Contains(t, u.answer, "approved by kari")
	assert.Equal(t, ella.OutcomeApproved, res.Outcome)
	assert.Equal(t, append(append([]string{}, ellaForward...), "mail back", "broadcast"), m.calls)
	assert.Equal(t, []activities.EllaSwitchInput{{Target: "../archive/releases/ella-release-v1.17.2.sif", Expected: ellaPrevious}}, m.switches)
	assert.Empty(t, m.restores)
	require.Len(t, m.broadcasts, 3)
	assert.Equal(t, ella.DowntimeMessage("v1.17.2", "tirsdag 16–18"), m.broadcasts[0].Message)
	assert.Equal(t, activities.EllaBroadcastInput{Message: ella.AcceptanceTestMessage, Deactivate: []int64{1}}, m.broadcasts[1])
	assert.Equal(t, activities.EllaBroadcastInput{Deactivate: []int64{1, 2}}, m.broadcasts[2])
	assert.Equal(t, []string{"users@example.org"}, m.mails[0].To)
	assert.Equal(t, []string{"tester@example.org"}, m.mails[1].To)
	assert.True(t, res.Migrated)
	assert.Equal(t, ellaPrevious, res.PreviousImage)
	assert.Equal(t, ella.GateDecided, res.Gate.State)
	require.NotNil(t, res.Gate.Decision)
	assert.Equal(t, "kari", res.Gate.Decision.By)
	for _, s := range res.Steps {
		assert.Contains(t, []string{ella.StepOK, ella.StepSkipped}, s.Status, s.Name)
	}
	assert.Contains(t, res.ChangeRecord, "Approved by kari")
	assert.Contains(t, res.ChangeRecord, "**approved**")
	assert.Contains(t, res.ChangeRecord, "| Database backup | "+res.Backup)
}

// rollbackCalls is a rollback after the database changed, with both notices.
var rollbackCalls = []string{"stop", "switch", "restore", "start", "broadcast", "mail rolled-back"}

func TestEllaDeployRejectedRollsBack(t *testing.T) {
	env, m := ellaEnv(t, nil)
	u := decide(env, "r1", ella.Decision{Approved: false, By: "kari", Comment: "filter feil"}, 9*time.Hour)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	require.NoError(t, env.GetWorkflowError(), "a rejection is an outcome, not a failure")
	var res EllaDeployResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.True(t, u.accepted)
	assert.Contains(t, u.answer, "rejected by kari: rolling back to "+ellaPrevious)
	assert.Equal(t, ella.OutcomeRejected, res.Outcome)
	want := append(append(append([]string{}, ellaForward...), "mail reminder"), rollbackCalls...)
	assert.Equal(t, want, m.calls, "one reminder at 8h, then the rollback")
	assert.Equal(t, activities.EllaSwitchInput{Target: ellaPrevious, Expected: "../archive/releases/ella-release-v1.17.2.sif"}, m.switches[1])
	assert.Equal(t, []string{res.Backup}, m.restores)
	last := m.broadcasts[len(m.broadcasts)-1]
	assert.Equal(t, activities.EllaBroadcastInput{Message: ella.RolledBackMessage, Deactivate: []int64{1, 2}}, last,
		"the downtime broadcast is active again in the restored database")
	rb := m.mails[len(m.mails)-1]
	assert.Equal(t, []string{"users@example.org", "tester@example.org"}, rb.To)
	assert.Contains(t, rb.Detail, "rejected in the acceptance test by kari: filter feil")
	assert.Contains(t, res.ChangeRecord, "Rejected by kari")
	assert.Contains(t, res.ChangeRecord, "rollback: restore database backup | ok")
}

func TestEllaDeployDeadlinePassedRollsBack(t *testing.T) {
	env, m := ellaEnv(t, nil)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	require.NoError(t, env.GetWorkflowError())
	var res EllaDeployResult
	require.NoError(t, env.GetWorkflowResult(&res))

	assert.Equal(t, ella.OutcomeExpired, res.Outcome)
	assert.Equal(t, ella.GateExpired, res.Gate.State)
	assert.Nil(t, res.Gate.Decision)
	want := append(append(append([]string{}, ellaForward...), "mail reminder", "mail reminder"), rollbackCalls...)
	assert.Equal(t, want, m.calls, "reminders at 8h and 16h, the deadline at 24h")
	assert.Equal(t, 24*time.Hour, res.Gate.Deadline.Sub(res.Steps[len(ellaForward)-1].Finished).Round(time.Minute))
	assert.Contains(t, res.ChangeRecord, "No decision before the deadline")
	assert.Contains(t, res.ChangeRecord, "**expired**")
}

func TestEllaDeployMigrationFailureRollsBack(t *testing.T) {
	env, m := ellaEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *ellaMocks) {
		env.OnActivity(ellaActs.MigrateEllaDatabase, mock.Anything, mock.Anything).Return(activities.EllaCommandResult{},
			temporal.NewNonRetryableApplicationError("ella-cli database upgrade head exited 1: column exists", activities.ErrEllaCommandFailed, nil)).Once()
	})
	late := decide(env, "late", ella.Decision{Approved: true, By: "kari"}, time.Hour)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	err := env.GetWorkflowError()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app))
	assert.Equal(t, ErrEllaRolledBack, app.Type())
	assert.Contains(t, app.Error(), "the database migration failed; rolled back to "+ellaPrevious)
	assert.Contains(t, app.Error(), "column exists")
	var res EllaDeployResult
	require.NoError(t, app.Details(&res))

	assert.Equal(t, []string{"check", "mail planned", "broadcast", "stop", "backup", "switch", "stop", "switch", "restore", "start", "broadcast", "mail rolled-back"}, m.calls)
	assert.Equal(t, ella.OutcomeRolledBack, res.Outcome)
	assert.False(t, res.Migrated)
	assert.Equal(t, ella.GateClosed, res.Gate.State)
	assert.Equal(t, []int64{1}, m.broadcasts[len(m.broadcasts)-1].Deactivate)
	assert.Contains(t, res.ChangeRecord, "migrate database (upgrade head) | failed")
	assert.False(t, late.accepted, "the run ended before any acceptance test")
}

func TestEllaDeployRollbackFailureLeavesELLAStopped(t *testing.T) {
	env, m := ellaEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *ellaMocks) {
		env.OnActivity(ellaActs.RestoreEllaDatabase, mock.Anything, mock.Anything).Return(activities.EllaCommandResult{},
			temporal.NewNonRetryableApplicationError("pg_restore: archive is corrupt", activities.ErrEllaBackupUnreadable, nil))
	})
	decide(env, "r", ella.Decision{By: "kari"}, time.Hour)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, ErrEllaLeftDown, app.Type())
	var res EllaDeployResult
	require.NoError(t, app.Details(&res))
	assert.Equal(t, ella.OutcomeLeftDown, res.Outcome)
	assert.Equal(t, []string{"stop", "switch", "mail left-down"}, m.calls[len(m.calls)-3:], "never started on a half-restored database")
	assert.Contains(t, app.Error(), "the rollback failed at restore database backup")
}

func TestEllaDeployRefusedBeforeStopping(t *testing.T) {
	t.Run("checksum mismatch", func(t *testing.T) {
		env, m := ellaEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *ellaMocks) {
			env.OnActivity(ellaActs.CheckEllaRelease, mock.Anything, mock.Anything).Return(activities.EllaCheckResult{},
				temporal.NewNonRetryableApplicationError("archive/releases/ella-release-v1.17.2.sif: sha256 differs", activities.ErrChecksumMismatch, nil))
		})
		env.ExecuteWorkflow(EllaDeploy, ellaInput())
		var app *temporal.ApplicationError
		require.True(t, errors.As(env.GetWorkflowError(), &app))
		assert.Equal(t, ErrEllaDeployRefused, app.Type())
		assert.Contains(t, app.Error(), "sha256 differs")
		var res EllaDeployResult
		require.NoError(t, app.Details(&res))
		assert.Equal(t, ella.OutcomeRefused, res.Outcome)
		assert.Empty(t, m.calls, "nothing stopped, nobody told")
	})
	t.Run("control characters in the broadcast", func(t *testing.T) {
		env, m := ellaEnv(t, nil)
		in := ellaInput()
		in.DowntimeMessage = "nede\x1b[2J"
		env.ExecuteWorkflow(EllaDeploy, in)
		var app *temporal.ApplicationError
		require.True(t, errors.As(env.GetWorkflowError(), &app))
		assert.Equal(t, ErrEllaDeployRefused, app.Type())
		assert.Contains(t, app.Error(), "downtime message: broadcast message holds control character")
		assert.Empty(t, m.calls)
	})
	t.Run("shell metacharacters in the broadcast are one argument", func(t *testing.T) {
		env, m := ellaEnv(t, nil)
		in := ellaInput()
		in.DowntimeMessage = `$(rm -rf /); echo "x"`
		decide(env, "a", ella.Decision{Approved: true, By: "kari"}, time.Hour)
		env.ExecuteWorkflow(EllaDeploy, in)
		require.NoError(t, env.GetWorkflowError())
		assert.Equal(t, `$(rm -rf /); echo "x"`, m.broadcasts[0].Message)
	})
}

func TestEllaDeployAcceptanceUpdateValidation(t *testing.T) {
	env, m := ellaEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *ellaMocks) {
		// The "ELLA is back" e-mail takes 10 minutes: the run is still there for the second decision.
		env.OnActivity(ellaActs.SendEllaMail, mock.Anything, mock.MatchedBy(func(in activities.EllaMailInput) bool {
			return in.Template == activities.EllaMailBack
		})).After(10*time.Minute).Return(activities.EllaMailResult{}, nil)
	})
	noBy := decide(env, "no-by", ella.Decision{Approved: true, By: " "}, time.Hour)
	first := decide(env, "first", ella.Decision{Approved: true, By: "kari"}, 2*time.Hour)
	second := decide(env, "second", ella.Decision{Approved: false, By: "ola"}, 2*time.Hour+time.Minute)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	require.NoError(t, env.GetWorkflowError())
	var res EllaDeployResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.Error(t, noBy.rejected)
	assert.Contains(t, noBy.rejected.Error(), `"by" (who decides) is missing`)
	assert.False(t, noBy.accepted)
	require.True(t, first.accepted)
	require.Error(t, second.rejected)
	assert.Contains(t, second.rejected.Error(), "already approved by kari")
	assert.Equal(t, ella.OutcomeApproved, res.Outcome)
	assert.Equal(t, "kari", res.Gate.Decision.By)
	assert.Empty(t, m.restores)
}

// A decision that arrives while the deploy still runs its steps (here: during the stop) is
// refused, consistently: testers decide on the new version running, which the gate opening
// says; the sender is told to decide once the acceptance test started, and the run goes on.
func TestEllaDeployDecisionBeforeTheGateIsRefused(t *testing.T) {
	env, m := ellaEnv(t, func(env *testsuite.TestWorkflowEnvironment, m *ellaMocks) {
		env.OnActivity(ellaActs.StopElla, mock.Anything, mock.Anything).After(30*time.Minute).Return(activities.EllaProgramsResult{}, nil).Once()
	})
	early := decide(env, "early", ella.Decision{Approved: false, By: "kari", Comment: "too soon"}, 10*time.Minute)
	later := decide(env, "later", ella.Decision{Approved: true, By: "kari"}, 3*time.Hour)
	env.ExecuteWorkflow(EllaDeploy, ellaInput())
	require.NoError(t, env.GetWorkflowError())
	var res EllaDeployResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.Error(t, early.rejected)
	assert.Contains(t, early.rejected.Error(), "the acceptance test has not started yet")
	assert.False(t, early.accepted)
	require.True(t, later.accepted)
	assert.Equal(t, ella.OutcomeApproved, res.Outcome)
	assert.NotContains(t, m.calls, "restore")
}
