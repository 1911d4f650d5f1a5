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

func TestPackageImportRefusesUnverifiedDataAndDiscardsIt(t *testing.T) {
	env, notices := importEnv(t)
	env.OnActivity(importActs.FetchPackage, mock.Anything, mock.Anything).Return(staged, nil).Once()
	env.OnActivity(importActs.VerifyPackage, mock.Anything, mock.Anything, mock.Anything).Return(activities.VerifyResult{},
		temporal.NewNonRetryableApplicationError("md5 mismatch for r1.fastq.gz", activities.ErrChecksumMismatch, nil)).Once()
	env.OnActivity(importActs.DiscardStaging, mock.Anything, staged).Return(nil).Once()
	env.OnActivity(importActs.PublishPackage, mock.Anything, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ImportInput, activities.FetchResult) (activities.PublishResult, error) {
			t.Error("an unverified package must never be published")
			return activities.PublishResult{}, nil
		}).Maybe()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1"})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, activities.ErrChecksumMismatch, app.Type())
	require.Len(t, *notices, 1)
	assert.Equal(t, activities.ErrChecksumMismatch, (*notices)[0].ErrorType)
	env.AssertExpectations(t)
}

func TestPackageImportDryRunOnlyFetchesTheListing(t *testing.T) {
	env, _ := importEnv(t)
	env.OnActivity(importActs.FetchPackage, mock.Anything, activities.ImportInput{Package: "Diag-wgs1", DryRun: true}).Return(staged, nil).Once()
	env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1", DryRun: true})
	require.NoError(t, env.GetWorkflowError())
	var res PackageImportResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.DryRun)
	assert.Len(t, res.Plan, 3)
	assert.Contains(t, res.Plan[2], "READY")
	env.AssertExpectations(t)
}
