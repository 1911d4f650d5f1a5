package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// Workflow tests of the watchers' scans: the listing activities and the children's activities are
// mocked; the children themselves are the real workflows unless a test replaces one.

func scanEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]activities.Notice) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.ImportActivities{})
	env.RegisterActivity(&activities.LimsActivities{})
	env.RegisterActivity(&activities.UploadActivities{})
	env.RegisterActivity(&activities.NotifyActivities{})
	env.RegisterWorkflow(PackageImport)
	env.RegisterWorkflow(PackageUpload)
	env.RegisterWorkflow(LimsPackageExport)
	notices := &[]activities.Notice{}
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) (string, error) {
			*notices = append(*notices, n)
			return "ok", nil
		}).Maybe()
	return env, notices
}

func pkg(kind samplepkg.Kind, name string) activities.ExportPackage {
	return activities.ExportPackage{Kind: kind, Name: name, PackageID: "h-" + name}
}

func scanResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) ScanTotals {
	t.Helper()
	require.NoError(t, env.GetWorkflowError())
	var res WatcherScanResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res.Totals
}

func TestLimsExportScanExportsEachQueuedItemInItsOwnChild(t *testing.T) {
	env, notices := scanEnv(t)
	items := []activities.LimsItem{{ID: "2-101", Kind: samplepkg.KindSample, Name: "Diag-1", PackageID: "h-1"},
		{ID: "2-102", Kind: samplepkg.KindAnalysis, Name: "Diag-1-basepipe", PackageID: "h-2"}}
	env.OnActivity(limsActs.ListLimsQueue, mock.Anything, activities.ScanPage{Limit: defaultScanBatch}).Return(
		activities.LimsQueuePage{Items: items}, nil).Once()
	var exported []string
	env.OnActivity(limsActs.ExportLimsItem, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, it activities.LimsItem) (activities.LimsExportResult, error) {
			exported = append(exported, it.ID)
			assert.Equal(t, "lims-export-"+it.PackageID, activity.GetInfo(ctx).WorkflowExecution.ID, "child id is the package hash")
			return activities.LimsExportResult{PackageID: it.PackageID, Files: 2}, nil
		}).Times(2)
	env.ExecuteWorkflow(LimsExportScan, WatcherScanInput{Environment: "dev"})
	totals := scanResult(t, env)
	assert.ElementsMatch(t, []string{"2-101", "2-102"}, exported)
	assert.Equal(t, ScanTotals{Found: 2, Started: 2, Succeeded: 2, Runs: 1}, totals)
	assert.Empty(t, *notices)
}

func TestNSCExportScanLeavesHalfWrittenPackagesForTheNextRun(t *testing.T) {
	env, _ := scanEnv(t)
	env.OnActivity(uploadActs.FindExportPackages, mock.Anything, mock.Anything).Return(
		activities.ExportScanPage{Packages: []activities.ExportPackage{pkg(samplepkg.KindSample, "S1")}, Unsettled: 2}, nil).Once()
	env.OnActivity(uploadActs.UploadPackage, mock.Anything, pkg(samplepkg.KindSample, "S1")).Return(
		activities.UploadResult{PackageID: "h-S1", Files: 3, ManifestKey: samplepkg.ManifestKey(samplepkg.KindSample, "S1")}, nil).Once()
	env.ExecuteWorkflow(NSCExportScan, WatcherScanInput{})
	totals := scanResult(t, env)
	assert.Equal(t, 1, totals.Succeeded)
	assert.Equal(t, map[string]int{"unsettled": 2}, totals.Skipped, "packages still being written are counted and left")
}

func TestFilelockScanSkipsImportedAndStartsEachPackageOnce(t *testing.T) {
	env, _ := scanEnv(t)
	s1 := pkg(samplepkg.KindSample, "S1")
	// The same package listed twice in one batch: the second start is refused by the child id,
	// which is what keeps two scans (or a scan and `opsflow import`) from importing it twice.
	env.OnActivity(importActs.ListImportCandidates, mock.Anything, mock.Anything).Return(
		activities.ImportCandidatesPage{Packages: []activities.ExportPackage{s1, s1}, Published: 3, Quarantined: 1,
			Refused: []string{"manifests/weird/x.json"}}, nil).Once()
	var imports []PackageImportInput
	env.OnWorkflow(PackageImport, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in PackageImportInput) (*PackageImportResult, error) {
			imports = append(imports, in)
			return &PackageImportResult{PackageID: "h-S1", Files: 2}, nil
		})
	env.ExecuteWorkflow(FilelockScan, WatcherScanInput{Environment: "dev"})
	totals := scanResult(t, env)
	assert.Equal(t, []PackageImportInput{{Package: "S1", Kind: samplepkg.KindSample, Environment: "dev"}}, imports)
	assert.Equal(t, 1, totals.Succeeded)
	assert.Equal(t, 1, totals.AlreadyStarted)
	assert.Equal(t, map[string]int{"published": 3, "quarantined": 1, "refused-manifest-key": 1}, totals.Skipped)
}

func TestFilelockScanReportsAFailedImportAndGoesOn(t *testing.T) {
	env, _ := scanEnv(t)
	bad, good := pkg(samplepkg.KindSample, "Bad"), pkg(samplepkg.KindAnalysis, "Good")
	env.OnActivity(importActs.ListImportCandidates, mock.Anything, mock.Anything).Return(
		activities.ImportCandidatesPage{Packages: []activities.ExportPackage{bad, good}}, nil).Once()
	env.OnWorkflow(PackageImport, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in PackageImportInput) (*PackageImportResult, error) {
			if in.Package == "Bad" {
				return nil, temporal.NewNonRetryableApplicationError("sha256 mismatch; quarantined", activities.ErrManifestMismatch, nil)
			}
			return &PackageImportResult{PackageID: "h-Good"}, nil
		})
	env.ExecuteWorkflow(FilelockScan, WatcherScanInput{})
	totals := scanResult(t, env)
	assert.Equal(t, 1, totals.Succeeded)
	assert.Equal(t, 1, totals.Failed)
	assert.Equal(t, []string{PackageImportWorkflowID("h-Bad")}, totals.FailedChildren, "the failed child is named by its hash")
}

func TestScanRetriesAFailedListing(t *testing.T) {
	env, _ := scanEnv(t)
	env.OnActivity(importActs.ListImportCandidates, mock.Anything, mock.Anything).Return(
		activities.ImportCandidatesPage{}, errors.New("connection refused")).Once()
	env.OnActivity(importActs.ListImportCandidates, mock.Anything, mock.Anything).Return(
		activities.ImportCandidatesPage{Published: 5}, nil).Once()
	env.ExecuteWorkflow(FilelockScan, WatcherScanInput{})
	totals := scanResult(t, env)
	assert.Equal(t, map[string]int{"published": 5}, totals.Skipped)
}

func TestScanContinuesAsNewAfterItsBatchesWithCursorAndTotals(t *testing.T) {
	env, _ := scanEnv(t)
	pages := map[string]activities.ImportCandidatesPage{
		"":                         {Packages: []activities.ExportPackage{pkg(samplepkg.KindSample, "A")}, NextCursor: "manifests/samples/A.json"},
		"manifests/samples/A.json": {Packages: []activities.ExportPackage{pkg(samplepkg.KindSample, "B")}, NextCursor: "manifests/samples/B.json"},
	}
	env.OnActivity(importActs.ListImportCandidates, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p activities.ScanPage) (activities.ImportCandidatesPage, error) {
			assert.Equal(t, 1, p.Limit)
			return pages[p.Cursor], nil
		}).Times(2)
	env.OnWorkflow(PackageImport, mock.Anything, mock.Anything).Return(&PackageImportResult{}, nil).Times(2)
	env.ExecuteWorkflow(FilelockScan, WatcherScanInput{BatchSize: 1, BatchesPerRun: 2, Environment: "dev"})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "got %v", err)
	var next WatcherScanInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.Equal(t, "manifests/samples/B.json", next.Cursor)
	assert.Equal(t, ScanTotals{Found: 2, Started: 2, Succeeded: 2, Runs: 1}, next.Totals)
	assert.Equal(t, "dev", next.Environment)
	assert.Equal(t, 1, next.BatchSize)
}

func TestScanRefusesAnOversizedBatch(t *testing.T) {
	env, _ := scanEnv(t)
	env.ExecuteWorkflow(FilelockScan, WatcherScanInput{BatchSize: maxScanBatch + 1})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, ErrInvalidInput, app.Type())
}
