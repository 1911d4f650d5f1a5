package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
)

type ReleaseDeploySuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env     *testsuite.TestWorkflowEnvironment
	notices []activities.Notice
}

func TestReleaseDeploy(t *testing.T) { suite.Run(t, new(ReleaseDeploySuite)) }

// testRunID is the run id of the test environment's workflow.
const testRunID = "default-test-run-id"

var (
	nscTarget = activities.SiteTarget{Name: "nsc", TaskQueue: "opsflow-site-nsc",
		Components: []string{"lims-exporter/", "nsc-exporter/"}, Services: []string{"lims-exporter-api", "nsc-exporter"}}
	tsdTarget = activities.SiteTarget{Name: "tsd", TaskQueue: "opsflow-site-tsd",
		Components: []string{"filelock-exporter/"}, Services: []string{"filelock-exporter-api"}}
	artifact = activities.Artifact{Version: "v1.4.0-rel", Bucket: "b", Key: "tsd-import/v1.4.0-rel/tsd-import-v1.4.0-rel.tar.gz", SHA256: "ab", Size: 10}
)

func (s *ReleaseDeploySuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterActivity(&activities.ReleaseActivities{})
	s.env.RegisterActivity(&activities.ArtifactActivities{})
	s.env.RegisterActivity(&activities.SiteFilesActivities{})
	s.env.RegisterActivity(&activities.SupervisorActivities{})
	s.env.RegisterActivity(&activities.NotifyActivities{})
	s.env.RegisterWorkflow(SiteLock)
	s.notices = nil
	s.env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) (string, error) {
			s.notices = append(s.notices, n)
			return "webhook notified", nil
		}).Maybe()
}

func (s *ReleaseDeploySuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

// expectCentral mocks tag, plan and export for a v1.4.0-rel release to nsc and tsd.
func (s *ReleaseDeploySuite) expectCentral() {
	s.env.OnActivity(releaseActs.CreateReleaseTag, mock.Anything, mock.MatchedBy(func(in activities.TagInput) bool { return in.Version == "v1.4.0-rel" && !in.DryRun })).
		Return(activities.TagResult{Tag: "v1.4.0-rel", Commit: "c0ffee", Branch: "master", Created: true}, nil).Once()
	s.env.OnActivity(releaseActs.PlanRelease, mock.Anything, mock.Anything).
		Return(activities.ReleasePlan{Environment: "test", Sites: []activities.SiteTarget{nscTarget, tsdTarget}}, nil).Once()
	s.env.OnActivity(artifactActs.ExportArtifact, mock.Anything, activities.ExportInput{Version: "v1.4.0-rel", Commit: "c0ffee"}).
		Return(artifact, nil).Once()
}

// expectDeployed mocks the deployed version of every site (same for all).
func (s *ReleaseDeploySuite) expectDeployed(version string) {
	s.env.OnActivity(siteFilesActs.DeployedVersion, mock.Anything).Return(version, nil)
}

func (s *ReleaseDeploySuite) expectSiteSteps(times int) {
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/site/sw/archive/x.tar.gz"}, nil).Times(times)
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Times(times)
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.MatchedBy(func(in activities.ExtractInput) bool {
		// The run's id names its temporary files; the site keeps its rollback target until the run's end.
		return in.Version == "v1.4.0-rel" && in.ArchivePath == "/site/sw/archive/x.tar.gz" && in.Run == testRunID && !in.KeepUntil.IsZero()
	})).
		Return(activities.ExtractResult{Previous: "v1.3.0-rel", Current: "v1.4.0-rel"}, nil).Times(times)
	s.env.OnActivity(supervisorActs.StartServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Times(times)
}

func (s *ReleaseDeploySuite) result() ReleaseDeployResult {
	s.True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res ReleaseDeployResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	return res
}

func (s *ReleaseDeploySuite) failure() *temporal.ApplicationError {
	s.True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var app *temporal.ApplicationError
	s.Require().True(errors.As(err, &app), "want an application error, got %v", err)
	return app
}

func (s *ReleaseDeploySuite) progress() Progress {
	v, err := s.env.QueryWorkflow(ProgressQuery)
	s.Require().NoError(err)
	var p Progress
	s.Require().NoError(v.Get(&p))
	return p
}

func (s *ReleaseDeploySuite) TestHappyPathDeploysEverySiteOnFirstRelease() {
	s.expectCentral()
	s.expectDeployed("")
	s.expectSiteSteps(2)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})

	res := s.result()
	s.Equal("c0ffee", res.Commit)
	s.Equal(artifact, res.Artifact)
	s.Require().Len(res.Sites, 2)
	for _, site := range res.Sites {
		s.True(site.Deployed, site.Site)
		s.Equal("first deployment", site.Reason)
		s.Equal("v1.4.0-rel", site.Current)
	}
	p := s.progress()
	s.Equal("done", p.Step)
	s.Equal("deployed v1.4.0-rel", p.Sites["nsc"])
	s.Equal("deployed v1.4.0-rel", p.Sites["tsd"])
	s.Empty(s.notices, "a successful run notifies nobody")
}

func (s *ReleaseDeploySuite) TestOnlySitesWhoseComponentsChangedAreDeployed() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything,
		activities.ChangeInput{From: "v1.3.0-rel", To: "c0ffee", Components: nscTarget.Components}).
		Return(activities.ChangeResult{Changed: []string{"nsc-exporter/"}}, nil).Once()
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything,
		activities.ChangeInput{From: "v1.3.0-rel", To: "c0ffee", Components: tsdTarget.Components}).
		Return(activities.ChangeResult{}, nil).Once()
	s.expectSiteSteps(1) // nsc only: Times(1) fails the test if tsd is touched
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})

	res := s.result()
	s.True(res.Sites[0].Deployed)
	s.Equal([]string{"nsc-exporter/"}, res.Sites[0].Changed)
	s.False(res.Sites[1].Deployed)
	s.Equal("no component changed since v1.3.0-rel", res.Sites[1].Reason)
	s.Equal("v1.3.0-rel", res.Sites[1].Current)
}

func (s *ReleaseDeploySuite) TestForceDeploysUnchangedSites() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.expectSiteSteps(2)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel", Force: true})
	res := s.result()
	s.Equal("forced", res.Sites[0].Reason)
	s.True(res.Sites[1].Deployed)
}

func (s *ReleaseDeploySuite) TestSiteAlreadyOnVersionIsSkipped() {
	s.expectCentral()
	s.expectDeployed("v1.4.0-rel")
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	res := s.result()
	s.Equal("already running v1.4.0-rel", res.Sites[0].Reason)
	s.False(res.Sites[0].Deployed)
}

func (s *ReleaseDeploySuite) TestMalformedTagFailsBeforeAnyStep() {
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0"})
	app := s.failure()
	s.Equal(activities.ErrInvalidVersion, app.Type())
	s.Contains(app.Error(), `"v1.4.0"`)
	s.True(app.NonRetryable())
	s.Equal("failed: validate", s.progress().Step)
}

func (s *ReleaseDeploySuite) TestTagConflictStopsTheRelease() {
	s.env.OnActivity(releaseActs.CreateReleaseTag, mock.Anything, mock.Anything).
		Return(activities.TagResult{}, temporal.NewNonRetryableApplicationError("tag v1.4.0-rel already exists at commit abc", activities.ErrTagConflict, nil)).Once()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(activities.ErrTagConflict, app.Type())
}

func (s *ReleaseDeploySuite) expectRollback(previous string, err error) {
	s.env.OnActivity(siteFilesActs.RollbackRelease, mock.Anything,
		activities.RollbackInput{Previous: previous, Failed: "v1.4.0-rel", Services: nscTarget.Services, Run: testRunID}).
		Return(activities.RollbackResult{Current: previous}, err).Once()
}

func (s *ReleaseDeploySuite) TestStopFailureRestartsThePreviousVersion() {
	s.expectCentral()
	s.expectDeployed("")
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).
		Return(activities.ServicesResult{}, temporal.NewNonRetryableApplicationError("supervisord does not know nsc-exporter", activities.ErrUnknownService, nil)).Once()
	s.env.OnActivity(siteFilesActs.RollbackRelease, mock.Anything, mock.Anything).
		Return(activities.RollbackResult{}, temporal.NewNonRetryableApplicationError("no previous version", activities.ErrNoPreviousVersion, nil)).Once()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteLeftDown, app.Type(), "no previous version: services are left stopped and the run says so")
	s.Contains(app.Error(), "STOPPED")
	s.Contains(s.progress().Sites["nsc"], "ROLLBACK FAILED")
}

func (s *ReleaseDeploySuite) TestStopFailureWithPreviousVersionRollsBack() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).
		Return(activities.ServicesResult{}, errors.New("supervisord unreachable")).Times(3) // serviceOptions: 3 attempts
	s.expectRollback("v1.3.0-rel", nil)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteRolledBack, app.Type())
	s.Contains(app.Error(), "supervisord unreachable")
	var res ReleaseDeployResult
	s.Require().NoError(app.Details(&res))
	s.True(res.Sites[0].RolledBack)
	s.Equal("v1.3.0-rel", res.Sites[0].Current)
	s.Len(res.Sites, 1, "tsd is not attempted after nsc failed")
}

func (s *ReleaseDeploySuite) TestExtractFailureRollsBack() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Once()
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).
		Return(activities.ExtractResult{}, temporal.NewNonRetryableApplicationError(`unsafe archive entry "../x"`, activities.ErrUnsafeArchive, nil)).Once()
	s.expectRollback("v1.3.0-rel", nil)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteRolledBack, app.Type())
	s.Contains(app.Error(), "unsafe archive entry")
	s.Require().Len(s.notices, 1, "one notice for a failed run")
	s.Equal("failed", s.notices[0].Kind)
	s.Equal(ErrSiteRolledBack, s.notices[0].ErrorType)
	s.Equal("failed: deploy nsc", s.notices[0].Step)
	s.Equal("rolled back to v1.3.0-rel", s.progress().Sites["nsc"])
}

func (s *ReleaseDeploySuite) TestStartFailureRollsBack() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Once()
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).Return(activities.ExtractResult{Previous: "v1.3.0-rel", Current: "v1.4.0-rel"}, nil).Once()
	s.env.OnActivity(supervisorActs.StartServices, mock.Anything, mock.Anything).
		Return(activities.ServicesResult{}, temporal.NewNonRetryableApplicationError("nsc-exporter did not stay running", activities.ErrServiceStartFailed, nil)).Once()
	s.expectRollback("v1.3.0-rel", nil)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteRolledBack, app.Type())
	s.Contains(app.Error(), "did not stay running")
}

func (s *ReleaseDeploySuite) TestFlakyArchiveIsRetried() {
	s.expectCentral()
	s.expectDeployed("")
	calls := 0
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(
		func(_ context.Context, _ activities.Artifact) (activities.ArchiveResult, error) {
			calls++
			if calls == 1 {
				return activities.ArchiveResult{}, errors.New("connection reset by peer")
			}
			return activities.ArchiveResult{Path: "/site/sw/archive/x.tar.gz"}, nil
		})
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil)
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).Return(activities.ExtractResult{Current: "v1.4.0-rel"}, nil)
	s.env.OnActivity(supervisorActs.StartServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel", Sites: []string{"nsc", "tsd"}})
	res := s.result()
	s.Equal(3, calls, "nsc needed two attempts, tsd one")
	s.True(res.Sites[0].Deployed)
}

func (s *ReleaseDeploySuite) TestDryRunPlansAndChangesNothing() {
	s.env.OnActivity(releaseActs.CreateReleaseTag, mock.Anything, activities.TagInput{Version: "v1.4.0-rel", DryRun: true}).
		Return(activities.TagResult{Tag: "v1.4.0-rel", Commit: "c0ffee", Branch: "master"}, nil).Once()
	s.env.OnActivity(releaseActs.PlanRelease, mock.Anything, mock.Anything).
		Return(activities.ReleasePlan{Environment: "test", Sites: []activities.SiteTarget{nscTarget, tsdTarget}}, nil).Once()
	planned := activities.Artifact{Version: "v1.4.0-rel", Bucket: "b", Key: artifact.Key, Planned: true}
	s.env.OnActivity(artifactActs.ExportArtifact, mock.Anything, activities.ExportInput{Version: "v1.4.0-rel", Commit: "c0ffee", DryRun: true}).
		Return(planned, nil).Once()
	s.expectDeployed("")
	s.env.OnActivity(siteFilesActs.PlanSiteDeploy, mock.Anything, mock.Anything).
		Return(activities.SitePlan{Actions: []string{"stop x", "extract y"}, Problems: []string{"service z unknown"}}, nil).Twice()
	for _, changing := range []any{siteFilesActs.ArchiveArtifact, supervisorActs.StopServices, siteFilesActs.ExtractRelease, supervisorActs.StartServices, siteFilesActs.RollbackRelease} {
		s.env.OnActivity(changing, mock.Anything, mock.Anything).Return(func(context.Context, any) (any, error) {
			s.Fail("a dry run must not run a changing activity")
			return nil, nil
		}).Maybe()
	}
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel", DryRun: true})
	res := s.result()
	s.True(res.DryRun)
	s.True(res.Artifact.Planned)
	s.Equal([]string{"stop x", "extract y"}, res.Sites[0].Plan)
	s.Equal([]string{"service z unknown"}, res.Sites[1].Problems)
	s.False(res.Sites[0].Deployed)
}

func (s *ReleaseDeploySuite) TestArchiveFailureStopsNothing() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).
		Return(activities.ArchiveResult{}, temporal.NewNonRetryableApplicationError("checksum mismatch", activities.ErrChecksumMismatch, nil)).Once()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteDeployFailed, app.Type(), "services were never stopped: no rollback needed")
	s.Contains(app.Error(), "checksum mismatch")
}

func (s *ReleaseDeploySuite) TestStuckRunNotifiesOnce() {
	s.env.OnActivity(releaseActs.CreateReleaseTag, mock.Anything, mock.Anything).
		Return(activities.TagResult{Tag: "v1.4.0-rel", Commit: "c0ffee", Branch: "master"}, nil).Once()
	s.env.OnActivity(releaseActs.PlanRelease, mock.Anything, mock.Anything).
		Return(activities.ReleasePlan{Sites: []activities.SiteTarget{nscTarget}, StuckAfter: 30 * time.Minute}, nil).Once()
	s.env.OnActivity(artifactActs.ExportArtifact, mock.Anything, mock.Anything).Return(artifact, nil).Once()
	s.expectDeployed("")
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, mock.Anything).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	// The stop hangs for 3 hours (a supervisord that never answers, with long timeouts).
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).After(3*time.Hour).Return(activities.ServicesResult{}, nil).Once()
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).Return(activities.ExtractResult{Current: "v1.4.0-rel"}, nil).Once()
	s.env.OnActivity(supervisorActs.StartServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Once()
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	s.result()
	s.Require().Len(s.notices, 1, "stuck once, not every 30 minutes")
	s.Equal("stuck", s.notices[0].Kind)
	s.Equal("deploy nsc", s.notices[0].Step)
	s.Equal("1h0m0s", s.notices[0].Since, "noticed at the end of the first whole quiet interval")
}

func (s *ReleaseDeploySuite) TestCancelDuringStartStillRollsBack() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Once()
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).Return(activities.ExtractResult{Current: "v1.4.0-rel"}, nil).Once()
	s.env.OnActivity(supervisorActs.StartServices, mock.Anything, mock.Anything).After(time.Hour).Return(activities.ServicesResult{}, nil).Maybe()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.expectRollback("v1.3.0-rel", nil)
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	s.True(s.env.IsWorkflowCompleted())
	s.Error(s.env.GetWorkflowError())
}

func TestReleaseDeployWorkflowID(t *testing.T) {
	require.Equal(t, "release-v1.4.0-rel", ReleaseDeployWorkflowID("v1.4.0-rel"))
}

func (s *ReleaseDeploySuite) TestRollbackToAMissingPreviousVersionLeavesTheSiteStoppedAtOnce() {
	s.expectCentral()
	s.expectDeployed("v1.3.0-rel")
	s.env.OnActivity(releaseActs.ChangedComponents, mock.Anything, mock.Anything).Return(activities.ChangeResult{Changed: []string{"x/"}}, nil)
	s.env.OnActivity(siteFilesActs.ArchiveArtifact, mock.Anything, artifact).Return(activities.ArchiveResult{Path: "/a"}, nil).Once()
	s.env.OnActivity(supervisorActs.StopServices, mock.Anything, mock.Anything).Return(activities.ServicesResult{}, nil).Once()
	s.env.OnActivity(siteFilesActs.ExtractRelease, mock.Anything, mock.Anything).
		Return(activities.ExtractResult{}, temporal.NewNonRetryableApplicationError("VERSION mismatch", activities.ErrVersionMismatch, nil)).Once()
	s.env.OnActivity(siteFilesActs.RollbackRelease, mock.Anything, mock.Anything).Return(activities.RollbackResult{},
		temporal.NewNonRetryableApplicationError("site nsc: cannot roll back to v1.3.0-rel: /site/sw/releases/tsd-import-v1.3.0-rel is missing",
			activities.ErrPreviousVersionMissing, nil)).Once() // once: not retried for an hour
	s.env.ExecuteWorkflow(ReleaseDeploy, ReleaseDeployInput{Version: "v1.4.0-rel"})
	app := s.failure()
	s.Equal(ErrSiteLeftDown, app.Type())
	s.True(app.NonRetryable())
	s.Contains(app.Error(), "/site/sw/releases/tsd-import-v1.3.0-rel is missing")
	s.Require().Len(s.notices, 1)
	s.Equal(ErrSiteLeftDown, s.notices[0].ErrorType)
}
