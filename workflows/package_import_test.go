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
	"github.com/opsflow/opsflow/internal/samplepkg"
)

func importEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]activities.Notice) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.ImportActivities{})
	env.RegisterActivity(&activities.NotifyActivities{})
	notices := &[]activities.Notice{}
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) (string, error) {
			*notices = append(*notices, n)
			return "ok", nil
		}).Maybe()
	return env, notices
}

var staged = activities.FetchResult{PackageID: "h-0123456789abcdef", StagingDir: "/durable/.staging/h-0123456789abcdef", Files: []string{"s.sample", "r1.fastq.gz"}, Bytes: 42}

func TestPackageImportPublishesAfterVerification(t *testing.T) {
	env, notices := importEnv(t)
	in := activities.ImportInput{Package: "Diag-wgs1"}
	env.OnActivity(importActs.FetchPackage, mock.Anything, in).Return(staged, nil).Once()
	env.OnActivity(importActs.VerifyPackage, mock.Anything, in, staged).Return(activities.VerifyResult{Reads: 1}, nil).Once()
	env.OnActivity(importActs.PublishPackage, mock.Anything, in, staged).Return(activities.PublishResult{Dir: "/durable/samples/Diag-wgs1"}, nil).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1"})
	require.NoError(t, env.GetWorkflowError())
	var res PackageImportResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, PackageImportResult{PackageID: staged.PackageID, Files: 2, Bytes: 42, Reads: 1, Dir: "/durable/samples/Diag-wgs1"}, res)
	assert.Empty(t, *notices)
	env.AssertExpectations(t)
}

func TestPackageImportQuarantinesUnverifiedData(t *testing.T) {
	env, notices := importEnv(t)
	in := activities.ImportInput{Package: "Diag-wgs1"}
	env.OnActivity(importActs.FetchPackage, mock.Anything, in).Return(staged, nil).Once()
	mismatch := temporal.NewNonRetryableApplicationError("package Diag-wgs1: r1.fastq.gz: md5 0, want 1", activities.ErrChecksumMismatch, nil)
	env.OnActivity(importActs.VerifyPackage, mock.Anything, in, staged).Return(activities.VerifyResult{}, mismatch).Once()
	qdir := "/durable/.quarantine/samples/" + staged.PackageID
	env.OnActivity(importActs.QuarantinePackage, mock.Anything, activities.QuarantineInput{Package: in, Staged: staged, Reason: "ChecksumMismatch: package Diag-wgs1: r1.fastq.gz: md5 0, want 1"}).
		Return(activities.QuarantineResult{Dir: qdir, Report: qdir + "/REPORT.json"}, nil).Once()
	env.OnActivity(importActs.PublishPackage, mock.Anything, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ImportInput, activities.FetchResult) (activities.PublishResult, error) {
			t.Error("an unverified package must never be published")
			return activities.PublishResult{}, nil
		}).Maybe()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, activities.ErrChecksumMismatch, app.Type())
	assert.Contains(t, app.Error(), "package quarantined in "+qdir+" (report "+qdir+"/REPORT.json): package Diag-wgs1: r1.fastq.gz: md5 0, want 1")
	require.Len(t, *notices, 1, "the failure notice is the alert")
	assert.Equal(t, activities.ErrChecksumMismatch, (*notices)[0].ErrorType)
	env.AssertExpectations(t)
}

// TestPackageImportQuarantinesAPackageRefusedAtFetch: objects that differ from the manifest
// are quarantined (a report alone: nothing was staged), so scans stop offering the package.
func TestPackageImportQuarantinesAPackageRefusedAtFetch(t *testing.T) {
	env, notices := importEnv(t)
	in := activities.ImportInput{Package: "Diag-wgs1", Kind: samplepkg.KindAnalysis}
	mismatch := temporal.NewNonRetryableApplicationError("r1.vcf: missing", activities.ErrManifestMismatch, nil)
	env.OnActivity(importActs.FetchPackage, mock.Anything, in).Return(activities.FetchResult{}, mismatch).Once()
	env.OnActivity(importActs.QuarantinePackage, mock.Anything, activities.QuarantineInput{Package: in, Reason: "ManifestMismatch: r1.vcf: missing"}).
		Return(activities.QuarantineResult{Dir: "/q", Report: "/q/REPORT.json"}, nil).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1", Kind: samplepkg.KindAnalysis})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, activities.ErrManifestMismatch, app.Type())
	assert.Contains(t, app.Error(), "package quarantined in /q")
	require.Len(t, *notices, 1)
	env.AssertExpectations(t)
}

// TestPackageImportWithoutManifestFailsWithoutQuarantine: a package not (completely) uploaded
// is refused as it is; it may be imported once its manifest is there.
func TestPackageImportWithoutManifestFailsWithoutQuarantine(t *testing.T) {
	env, _ := importEnv(t)
	env.OnActivity(importActs.FetchPackage, mock.Anything, mock.Anything).Return(activities.FetchResult{},
		temporal.NewNonRetryableApplicationError("no manifest", activities.ErrManifestMissing, nil)).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, activities.ErrManifestMissing, app.Type())
	env.AssertExpectations(t)
}

func TestPackageImportRetriesATransientFetchFailure(t *testing.T) {
	env, notices := importEnv(t)
	in := activities.ImportInput{Package: "Diag-wgs1"}
	env.OnActivity(importActs.FetchPackage, mock.Anything, in).Return(activities.FetchResult{}, errors.New("connection reset by peer")).Twice()
	env.OnActivity(importActs.FetchPackage, mock.Anything, in).Return(staged, nil).Once()
	env.OnActivity(importActs.VerifyPackage, mock.Anything, in, staged).Return(activities.VerifyResult{Reads: 1}, nil).Once()
	env.OnActivity(importActs.PublishPackage, mock.Anything, in, staged).Return(activities.PublishResult{Dir: "/durable/samples/Diag-wgs1"}, nil).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1"})
	require.NoError(t, env.GetWorkflowError())
	assert.Empty(t, *notices)
	env.AssertExpectations(t)
}

func TestPackageImportDryRunOnlyFetchesTheListing(t *testing.T) {
	env, _ := importEnv(t)
	planned := staged
	planned.PublishedDir = "/durable/samples/Diag-wgs1"
	env.OnActivity(importActs.FetchPackage, mock.Anything, activities.ImportInput{Package: "Diag-wgs1", DryRun: true}).Return(planned, nil).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1", DryRun: true})
	require.NoError(t, env.GetWorkflowError())
	var res PackageImportResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.DryRun)
	require.Len(t, res.Plan, 3)
	assert.Contains(t, res.Plan[1], "manifests/samples/Diag-wgs1.json")
	assert.Contains(t, res.Plan[1], "Diag-wgs1.sample")
	assert.Equal(t, "move to /durable/samples/Diag-wgs1, then write READY", res.Plan[2])
	env.AssertExpectations(t)
}

func TestPackageImportDryRunOfABackupPlansNoReady(t *testing.T) {
	env, _ := importEnv(t)
	env.OnActivity(importActs.FetchPackage, mock.Anything, mock.Anything).Return(staged, nil).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-bk1", Kind: samplepkg.KindBackup, DryRun: true})
	var res PackageImportResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Contains(t, res.Plan[2], "move to backup/Diag-bk1 (no READY")
}
