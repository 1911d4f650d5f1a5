package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
)

func bridgeEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]activities.Notice) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.BridgeArchiveActivities{})
	env.RegisterActivity(&activities.BridgeParquetActivities{})
	env.RegisterActivity(&activities.NotifyActivities{})
	env.RegisterWorkflow(BridgeArchiveToJSON)
	env.RegisterWorkflow(BridgeJSONToParquet)
	notices := &[]activities.Notice{}
	env.OnActivity(notifyActs.NotifyOperators, mock.Anything, mock.Anything).Return(
		func(_ context.Context, n activities.Notice) (string, error) {
			*notices = append(*notices, n)
			return "ok", nil
		}).Maybe()
	return env, notices
}

var archive = activities.BridgeArchive{Bucket: "bridge-archives", Key: "exports/rec1.zip", RecordID: "rec1"}

func TestBridgeArchiveToJSONWritesTheRecordsDatasets(t *testing.T) {
	env, notices := bridgeEnv(t)
	want := activities.ArchiveToJSONResult{RecordID: "rec1", Datasets: []bridge.DatasetWritten{{Dataset: "sharedSchema_v1",
		Key: "raw_json/dataset=sharedSchema_v1/assessmentid=dccs/year=2022/month=9/day=1/rec1.ndjson", Lines: 1}}, Unmapped: []string{"info.json"}}
	env.OnActivity(bridgeArchiveActs.ArchiveToJSON, mock.Anything, archive).Return(want, nil).Once()
	env.ExecuteWorkflow(BridgeArchiveToJSON, BridgeArchiveToJSONInput{Archive: archive})
	require.NoError(t, env.GetWorkflowError())
	var got activities.ArchiveToJSONResult
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, want, got, "unmapped files are reported, never dropped silently")
	assert.Empty(t, *notices)
}

func TestBridgeArchiveToJSONRecordsARefusedArchiveOnce(t *testing.T) {
	env, notices := bridgeEnv(t)
	env.OnActivity(bridgeArchiveActs.ArchiveToJSON, mock.Anything, archive).Return(activities.ArchiveToJSONResult{},
		temporal.NewNonRetryableApplicationError("entry ../../etc/passwd leaves the archive", activities.ErrBridgeUnsafeArchive, nil)).Once()
	var refusal activities.ArchiveRefusal
	env.OnActivity(bridgeArchiveActs.RecordArchiveRefusal, mock.Anything, mock.Anything).Return(
		func(_ context.Context, r activities.ArchiveRefusal) error { refusal = r; return nil }).Once()
	env.ExecuteWorkflow(BridgeArchiveToJSON, BridgeArchiveToJSONInput{Archive: archive})
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	assert.Equal(t, activities.ErrBridgeUnsafeArchive, app.Type())
	assert.Equal(t, activities.ErrBridgeUnsafeArchive, refusal.ErrorType)
	assert.Equal(t, archive, refusal.Archive)
	require.Len(t, *notices, 1)
	assert.Equal(t, activities.ErrBridgeUnsafeArchive, (*notices)[0].ErrorType)
}

func TestBridgeNotificationPollDrainsUntilTheQueueIsShort(t *testing.T) {
	env, _ := bridgeEnv(t)
	env.OnActivity(bridgeArchiveActs.DrainArchiveNotifications, mock.Anything, activities.DrainInput{Max: 10}).Return(
		activities.DrainResult{Received: 10, Started: 9, Duplicates: 1}, nil).Twice()
	env.OnActivity(bridgeArchiveActs.DrainArchiveNotifications, mock.Anything, activities.DrainInput{Max: 10}).Return(
		activities.DrainResult{Received: 3, Started: 2, Ignored: 1}, nil).Once()
	env.ExecuteWorkflow(BridgeNotificationPoll, WatcherScanInput{BatchSize: 10})
	require.NoError(t, env.GetWorkflowError())
	var got activities.DrainResult
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, activities.DrainResult{Received: 23, Started: 20, Duplicates: 2, Ignored: 1}, got)
	env.AssertExpectations(t)
}

func TestBridgeArchiveSweepStartsOneRunPerArchive(t *testing.T) {
	env, _ := bridgeEnv(t)
	other := activities.BridgeArchive{Bucket: "bridge-archives", Key: "exports/rec2.zip", RecordID: "rec2"}
	env.OnActivity(bridgeArchiveActs.SweepArchives, mock.Anything, activities.SweepInput{Prefix: "exports/", Limit: defaultScanBatch}).Return(
		activities.SweepPage{Archives: []activities.BridgeArchive{archive, other}, Processed: 7, Refused: 1}, nil).Once()
	var ids []string
	env.OnWorkflow(BridgeArchiveToJSON, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in BridgeArchiveToJSONInput) (*activities.ArchiveToJSONResult, error) {
			ids = append(ids, workflow.GetInfo(ctx).WorkflowExecution.ID)
			return &activities.ArchiveToJSONResult{RecordID: in.Archive.RecordID}, nil
		})
	env.ExecuteWorkflow(BridgeArchiveSweep, WatcherScanInput{Prefix: "exports/"})
	totals := scanResult(t, env)
	assert.ElementsMatch(t, []string{"bridge-archive-rec1", "bridge-archive-rec2"}, ids)
	assert.Equal(t, 2, totals.Succeeded)
	assert.Equal(t, map[string]int{"processed": 7, "refused": 1}, totals.Skipped)
}

func TestBridgeJSONToParquetConvertsStalePartitionsAndChecksCompleteness(t *testing.T) {
	env, notices := bridgeEnv(t)
	parts := []string{"assessmentid=dccs/year=2022/month=9/day=1/", "assessmentid=dccs/year=2022/month=9/day=2/",
		"assessmentid=spelling/year=2022/month=9/day=1/"}
	ds := activities.BridgeDatasetInput{Dataset: "MotionRecord_v1"}
	env.OnActivity(bridgeParquetActs.ListStalePartitions, mock.Anything, ds).Return(activities.StalePartitions{Partitions: parts, Records: 5}, nil).Once()
	env.OnActivity(bridgeParquetActs.ConvertPartition, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ConvertPartitionInput) (activities.ConvertPartitionResult, error) {
			if in.Partition == parts[2] {
				return activities.ConvertPartitionResult{}, temporal.NewNonRetryableApplicationError(
					"column x: string and int64", activities.ErrBridgeTypeConflict, nil)
			}
			return activities.ConvertPartitionResult{Records: 2, Rows: map[string]int64{"dataset_motionrecord_v1": 2, "dataset_motionrecord_v1_items": 20}}, nil
		}).Times(3)
	env.OnActivity(bridgeParquetActs.CheckCompleteness, mock.Anything, ds).Return(
		activities.CompletenessResult{Records: 5, Missing: []string{"rec5"}, MissingCount: 1}, nil).Once()
	env.ExecuteWorkflow(BridgeJSONToParquet, BridgeJSONToParquetInput{Dataset: "MotionRecord_v1"})
	require.NoError(t, env.GetWorkflowError())
	var got BridgeJSONToParquetResult
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, 2, got.Partitions)
	assert.Equal(t, 4, got.Records)
	assert.Equal(t, map[string]int64{"dataset_motionrecord_v1": 4, "dataset_motionrecord_v1_items": 40}, got.Rows)
	assert.Equal(t, []string{parts[2]}, got.Failed, "a partition refused for good is reported; the others are converted")
	assert.Equal(t, []string{"rec5"}, got.Completeness.Missing)
	require.Len(t, *notices, 1, "missing records are alerted")
	assert.Equal(t, "incomplete", (*notices)[0].Kind)
	assert.Equal(t, ErrBridgeIncomplete, (*notices)[0].ErrorType)
}

func TestBridgeJSONToParquetContinuesAsNewOverManyPartitions(t *testing.T) {
	env, _ := bridgeEnv(t)
	var parts []string
	for i := 0; i < maxPartitionsPerRun+5; i++ {
		parts = append(parts, fmt.Sprintf("assessmentid=a%03d/year=2022/month=9/day=1/", i))
	}
	env.OnActivity(bridgeParquetActs.ListStalePartitions, mock.Anything, mock.Anything).Return(activities.StalePartitions{Partitions: parts}, nil).Once()
	env.OnActivity(bridgeParquetActs.ConvertPartition, mock.Anything, mock.Anything).Return(
		activities.ConvertPartitionResult{Records: 1, Rows: map[string]int64{"dataset_x": 1}}, nil).Times(maxPartitionsPerRun)
	env.ExecuteWorkflow(BridgeJSONToParquet, BridgeJSONToParquetInput{Dataset: "x", Parallel: 8})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next BridgeJSONToParquetInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Done)
	assert.Equal(t, maxPartitionsPerRun, next.Done.Partitions)
	assert.Equal(t, int64(maxPartitionsPerRun), next.Done.Rows["dataset_x"])
}

func TestBridgeParquetScanStartsOneConversionPerDataset(t *testing.T) {
	env, _ := bridgeEnv(t)
	env.OnActivity(bridgeParquetActs.ListBridgeDatasets, mock.Anything, mock.Anything).Return(
		activities.BridgeDatasetsPage{Datasets: []string{"MotionRecord_v1", "sharedSchema_v1"}}, nil).Once()
	var datasets []string
	env.OnWorkflow(BridgeJSONToParquet, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in BridgeJSONToParquetInput) (*BridgeJSONToParquetResult, error) {
			assert.Equal(t, BridgeParquetWorkflowID("dev", in.Dataset), workflow.GetInfo(ctx).WorkflowExecution.ID)
			datasets = append(datasets, in.Dataset)
			return &BridgeJSONToParquetResult{Dataset: in.Dataset}, nil
		})
	env.ExecuteWorkflow(BridgeParquetScan, WatcherScanInput{Environment: "dev"})
	totals := scanResult(t, env)
	assert.ElementsMatch(t, []string{"MotionRecord_v1", "sharedSchema_v1"}, datasets)
	assert.Equal(t, 2, totals.Succeeded)
}
