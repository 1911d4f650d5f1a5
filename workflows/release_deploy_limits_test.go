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
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// siteLog records, in order, the changing site activities the mocks saw, per version.
type siteLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *siteLog) add(step string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, step)
}

// lockEnv mocks a release of any version to nsc alone (previous v1.0.0-rel, changed); the
// extraction of slowVersion takes slowFor.
func lockEnv(t *testing.T, slowVersion string, slowFor time.Duration) (*testsuite.TestWorkflowEnvironment, *siteLog) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.ReleaseActivities{})
	env.RegisterActivity(&activities.ArtifactActivities{})
	env.RegisterActivity(&activities.SiteFilesActivities{})
	env.RegisterActivity(&activities.SupervisorActivities{})
	env.RegisterActivity(&activities.NotifyActivities{})
	env.RegisterWorkflow(ReleaseDeploy)
	env.RegisterWorkflow(SiteLock)
	log := &siteLog{}
	env.OnActivity(releaseActs.CreateReleaseTag, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TagInput) (activities.TagResult, error) {
			return activities.TagResult{Tag: in.Version, Commit: "c-" + in.Version, Branch: "master", Created: true}, nil
		})
	env.OnActivity(releaseActs.PlanRelease, mock.Anything, mock.Anything).
		Return(activities.ReleasePlan{Environment: "test", Sites: []activities.SiteTarget{nscTarget}}, nil)
	env.OnActivity(artifactActs.ExportArtifact, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExportInput) (activities.Artifact, error) {
			return activities.Artifact{Version: in.Version, Bucket: "b", Key: in.Version + ".tar.gz", SHA256: "ab"}, nil
		})
	env.OnActivity(siteFilesActs.DeployedVersion, mock.Anything).Return("v1.0.0-rel", nil)
	env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"nsc-exporter/"}}, nil)
	env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, mock.Anything).Return(
		func(_ context.Context, art activities.Artifact) (activities.ArchiveResult, error) {
			log.add("archive " + art.Version)
			return activities.ArchiveResult{Path: "/site/sw/archive/" + art.Key}, nil
		})
	env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil)
	extract := func(_ context.Context, in activities.ExtractInput) (activities.ExtractResult, error) {
		log.add("extract " + in.Version)
		return activities.ExtractResult{Previous: "v1.0.0-rel", Current: in.Version}, nil
	}
	env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.MatchedBy(func(in activities.ExtractInput) bool { return in.Version == slowVersion })).
		After(slowFor).Return(extract)
	env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.MatchedBy(func(in activities.ExtractInput) bool { return in.Version != slowVersion })).
		Return(extract)
	env.OnActivity(supervisorActs.StartServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil)
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return("ok", nil).Maybe()
	return env, log
}

// releasesAtOnce starts a ReleaseDeploy per version as children, each after its delay, and
// answers each one's outcome: "deployed" or its failure type.
func releasesAtOnce(ctx workflow.Context, versions []string, delays []time.Duration) ([]string, error) {
	futures := make([]workflow.ChildWorkflowFuture, len(versions))
	for i, v := range versions {
		if delays[i] > 0 {
			_ = workflow.Sleep(ctx, delays[i])
		}
		futures[i] = workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx,
			workflow.ChildWorkflowOptions{WorkflowID: ReleaseDeployWorkflowID(v)}), ReleaseDeploy, ReleaseDeployInput{Version: v})
	}
	out := make([]string, len(versions))
	for i, f := range futures {
		var res ReleaseDeployResult
		err := f.Get(ctx, &res)
		var app *temporal.ApplicationError
		switch {
		case err == nil && len(res.Sites) == 1 && res.Sites[0].Deployed:
			out[i] = "deployed"
		case errors.As(err, &app):
			out[i] = app.Type() + ": " + app.Message()
		default:
			out[i] = "unexpected: " + errString(err)
		}
	}
	return out, nil
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// The case: a v1.2.0-rel release reaching a site while a v1.1.0-rel release is
// extracting there. One deploy per site at a time: the second is refused before it touches
// the site, saying which lock holds it.
func TestASecondReleaseOnABusySiteIsRefusedBeforeTouchingIt(t *testing.T) {
	env, log := lockEnv(t, "v1.1.0-rel", 10*time.Minute)
	env.RegisterWorkflow(releasesAtOnce)
	env.ExecuteWorkflow(releasesAtOnce, []string{"v1.1.0-rel", "v1.2.0-rel"}, []time.Duration{0, time.Minute})
	require.NoError(t, env.GetWorkflowError())
	var out []string
	require.NoError(t, env.GetWorkflowResult(&out))
	assert.Equal(t, "deployed", out[0])
	assert.Contains(t, out[1], ErrSiteBusy+": ")
	assert.Contains(t, out[1], "site nsc")
	assert.Contains(t, out[1], SiteLockWorkflowID(nscTarget.TaskQueue))
	assert.Contains(t, out[1], "nothing was stopped")
	assert.Equal(t, []string{"archive v1.1.0-rel", "extract v1.1.0-rel"}, log.steps, "v1.2.0-rel never touched the site")
}

// The lock is the site's only while a deploy runs: the next release, even after a rollback,
// gets it.
func TestTheSiteLockIsReleasedWhenTheDeployEnds(t *testing.T) {
	env, log := lockEnv(t, "", 0)
	env.RegisterWorkflow(releasesAtOnce)
	env.ExecuteWorkflow(releasesAtOnce, []string{"v1.1.0-rel", "v1.2.0-rel"}, []time.Duration{0, time.Hour})
	require.NoError(t, env.GetWorkflowError())
	var out []string
	require.NoError(t, env.GetWorkflowResult(&out))
	assert.Equal(t, []string{"deployed", "deployed"}, out)
	assert.Equal(t, []string{"archive v1.1.0-rel", "extract v1.1.0-rel", "archive v1.2.0-rel", "extract v1.2.0-rel"}, log.steps)
}

// The run's own time limit, not the server's execution timeout, ends a step that hangs: the
// site is rolled back and operators are told, while the run still has time to do both.
func (s *ReleaseDeploySuite) TestTimeLimitDuringExtractRollsBackAndNotifies() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Once()
	start := s.env.Now()
	// An extraction that does not end for 20 hours (a hung NFS mount).
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).After(20*time.Hour).
		Return(activities.ExtractResult{Current: "v1.4.0-rel"}, nil).Maybe()
	var rolledBackAt time.Time
	s.env.OnActivity(siteFilesActs.RollbackRelease, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.RollbackInput) (activities.RollbackResult, error) {
			rolledBackAt = s.env.Now()
			return activities.RollbackResult{Current: "v1.3.0-rel"}, nil
		}).Once()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel", TimeLimit: "2h"})
	app := s.failure()
	s.Equal(ErrSiteRolledBack, app.Type())
	s.Contains(app.Error(), "time limit 2h0m0s")
	s.Contains(app.Error(), "extract")
	s.InDelta(2*time.Hour, rolledBackAt.Sub(start), float64(time.Minute), "rolled back when the limit passed")
	s.Require().Len(s.notices, 1)
	s.Equal(ErrSiteRolledBack, s.notices[0].ErrorType)
	s.Equal("rolled back to v1.3.0-rel", s.progress().Sites["nsc"])
}

func (s *ReleaseDeploySuite) TestTimeLimitDuringExportTouchesNoSite() {
	s.env.OnActivity(releaseActs.CreateReleaseTag, mock.Anything, mock.Anything).
		Return(activities.TagResult{Tag: "v1.4.0-rel", Commit: "c0ffee", Branch: "master"}, nil).Once()
	s.env.OnActivity(releaseActs.PlanRelease, mock.Anything, mock.Anything).
		Return(activities.ReleasePlan{Sites: []activities.SiteTarget{nscTarget}}, nil).Once()
	// A CI job that does not finish for 20 hours.
	s.env.OnActivity(artifactActs.ExportArtifact, mock.Anything, mock.Anything).After(20*time.Hour).Return(artifact, nil).Maybe()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"}) // default limit
	app := s.failure()
	s.Equal(ErrTimeLimit, app.Type())
	s.False(temporal.IsCanceledError(s.env.GetWorkflowError()),
		"no CanceledError in the chain: the server would close the run as canceled, not failed")
	s.Contains(app.Error(), "time limit 6h0m0s")
	s.Contains(app.Error(), "export")
	s.Require().Len(s.notices, 1)
	s.Equal(ErrTimeLimit, s.notices[0].ErrorType)
}

// Started with a server limit that leaves less than the time limit plus a rollback (say, by
// hand with `temporal workflow start --execution-timeout 4h`), the run moves its own deadline
// earlier, so the rollback and the notice still happen before the server ends it.
func (s *ReleaseDeploySuite) TestAShortExecutionTimeoutBringsTheDeadlineForward() {
	s.env.SetStartWorkflowOptions(client.StartWorkflowOptions{WorkflowExecutionTimeout: 4 * time.Hour})
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	// supervisord does not answer for 20 hours.
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).After(20*time.Hour).Return(activities.ServicesResult{}, nil).Maybe()
	start := s.env.Now()
	var rolledBackAt time.Time
	s.env.OnActivity(siteFilesActs.RollbackRelease, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.RollbackInput) (activities.RollbackResult, error) {
			rolledBackAt = s.env.Now()
			return activities.RollbackResult{Current: "v1.3.0-rel"}, nil
		}).Once()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteRolledBack, app.Type())
	s.False(rolledBackAt.IsZero())
	s.LessOrEqual(rolledBackAt.Sub(start), 4*time.Hour-ReleaseDeployWindDown, "room for the rollback and the notice")
	s.Require().Len(s.notices, 1)
}

func TestReleaseExecutionTimeoutLeavesRoomForRollbackAndNotice(t *testing.T) {
	limit := ReleaseDeployDefaultTimeLimit
	assert.GreaterOrEqual(t, ReleaseDeployWindDown, rollbackOptions.ScheduleToCloseTimeout+notifyOptions.ScheduleToCloseTimeout)
	assert.Greater(t, ReleaseDeployExecutionTimeout(limit), limit+ReleaseDeployWindDown, "the server's limit comes after the run's own")
}

func TestBadTimeLimitIsRefused(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.NotifyActivities{})
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return("ok", nil).Once()
	env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel", TimeLimit: "soon"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app), "%v", env.GetWorkflowError())
	assert.Equal(t, ErrInvalidInput, app.Type())
	assert.Contains(t, app.Error(), `"soon"`)
}
