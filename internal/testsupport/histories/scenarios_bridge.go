package histories

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/workflows"
)

// --- Bridge downstream: the archive stage, its triggers, and the Parquet stage

// bridgeArchive is a made-up archive of a scenario; its record id is unique to the recording
// (the run's id derives from it).
func bridgeArchive(e *Env, scenario string) activities.BridgeArchive {
	id := "rec" + e.Stamp + scenario
	return activities.BridgeArchive{Bucket: "bridge-archives", Key: "exports/" + id + ".zip", RecordID: id}
}

func bridgeArchiveResult(a activities.BridgeArchive) activities.ArchiveToJSONResult {
	p := bridge.Partition{AssessmentID: "dccs", Year: 2022, Month: 9, Day: 1}
	return activities.ArchiveToJSONResult{RecordID: a.RecordID, Datasets: []bridge.DatasetWritten{
		{Dataset: "ArchiveMetadata_v1", Key: bridge.RawJSONKey("ArchiveMetadata_v1", p, a.RecordID), Lines: 1},
		{Dataset: "sharedSchema_v1", Key: bridge.RawJSONKey("sharedSchema_v1", p, a.RecordID), Lines: 1}},
		Unmapped: []string{"info.json"}, MarkerKey: bridge.RecordMarkerKey(a.RecordID)}
}

func bridgeScenarios() []Scenario {
	return []Scenario{
		bridgeArchiveScenario("succeeded", "an archive's datasets written, an unmapped file reported", nil, completed),
		bridgeArchiveScenario("refused", "a zip-slip entry: refused, nothing written, the refusal recorded, operators notified", func(s Script) {
			s["ArchiveToJSON"] = fails(refused(activities.ErrBridgeUnsafeArchive, "entry ../../etc/passwd leaves the archive"))
			s["RecordArchiveRefusal"] = ok(nil)
			s["NotifyOperators"] = notified
		}, failed),
		bridgePollScenario("drained", "two drains: a full one, then a short one", Script{"DrainArchiveNotifications": ok(
			activities.DrainResult{Received: 2, Started: 1, Duplicates: 1}, activities.DrainResult{Received: 1, Started: 1})}, completed),
		bridgePollScenario("failed", "the drain is refused: the poll fails, operators notified", Script{
			"DrainArchiveNotifications": fails(refused(activities.ErrInvalidInput, "DrainArchiveNotifications: no notification queue configured")),
			"NotifyOperators":           notified}, failed),
		bridgeSweepScenario(),
		scanListingFailedScenario("bridge_archive_sweep", "bridge-sweep", workflows.BridgeArchiveSweepProcedure, workflows.BridgeArchiveSweep, "SweepArchives"),
		bridgeParquetScenario("converted", "two stale partitions converted, every record in the tables", nil, completed),
		bridgeParquetScenario("incomplete", "one partition refused (a type conflict) and a record missing: reported and alerted", func(s Script) {
			s["ConvertPartition"] = []Answer{{Result: activities.ConvertPartitionResult{Records: 2, Lines: 2,
				Rows: map[string]int64{"dataset_sharedschema_v1": 2, "dataset_sharedschema_v1_steps": 6}}},
				{Err: refused(activities.ErrBridgeTypeConflict, "column score: string and int64")}}
			s["CheckCompleteness"] = ok(activities.CompletenessResult{Records: 4, Missing: []string{"rec3"}, MissingCount: 1})
			s["NotifyOperators"] = notified
		}, completed),
		bridgeParquetScenario("failed", "the listing is refused: the conversion fails, operators notified", func(s Script) {
			s["ListStalePartitions"] = fails(refused(activities.ErrInvalidInput, "dataset id \"../x\" is not letters, digits, _ and -"))
			s["NotifyOperators"] = notified
		}, failed),
		bridgeParquetScanScenario(),
		scanListingFailedScenario("bridge_parquet_scan", "bridge-parquet", workflows.BridgeParquetScanProcedure, workflows.BridgeParquetScan, "ListBridgeDatasets"),
	}
}

func bridgeArchiveScenario(name, about string, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "bridge_archive_to_json", Name: name}
	return Scenario{Name: "bridge_archive_to_json_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			a := bridgeArchive(e, name)
			s := Script{"ArchiveToJSON": ok(bridgeArchiveResult(a))}
			if change != nil {
				change(s)
			}
			run, _, err := e.Start(ctx, client.StartWorkflowOptions{ID: e.ID(workflows.BridgeArchiveWorkflowID(a.RecordID), name)},
				s, workflows.BridgeArchiveToJSON, workflows.BridgeArchiveToJSONInput{Archive: a, Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

func bridgePollScenario(name, about string, script Script, want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "bridge_notification_poll", Name: name}
	return Scenario{Name: "bridge_notification_poll_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			run, _, err := e.Start(ctx, scanStart(e, workflows.BridgeNotificationPollProcedure, "bridge-notifications", name),
				script, workflows.BridgeNotificationPoll, workflows.WatcherScanInput{Environment: Environment, BatchSize: 2})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

func bridgeSweepScenario() Scenario {
	out := Output{Workflow: "bridge_archive_sweep", Name: "swept"}
	return Scenario{Name: "bridge_archive_sweep_swept", Outputs: []Output{out},
		About: "one archive not processed yet: its BridgeArchiveToJSON child run; processed and refused ones skipped",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			a := bridgeArchive(e, "swept")
			e.Expect(workflows.BridgeArchiveWorkflowID(a.RecordID), Script{"ArchiveToJSON": ok(bridgeArchiveResult(a))})
			run, _, err := e.Start(ctx, scanStart(e, workflows.BridgeArchiveSweepProcedure, "bridge-sweep", "swept"),
				Script{"SweepArchives": ok(activities.SweepPage{Archives: []activities.BridgeArchive{a}, Processed: 3, Refused: 1})},
				workflows.BridgeArchiveSweep, workflows.WatcherScanInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: completed}}, nil
		}}
}

const sharedSchema = "sharedSchema_v1"

func bridgeParquetScenario(name, about string, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "bridge_json_to_parquet", Name: name}
	return Scenario{Name: "bridge_json_to_parquet_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			s := Script{
				"ListStalePartitions": ok(activities.StalePartitions{Records: 4, Partitions: []string{
					"assessmentid=dccs/year=2022/month=9/day=1/", "assessmentid=dccs/year=2022/month=9/day=2/"}}),
				"ConvertPartition": ok(activities.ConvertPartitionResult{Records: 2, Lines: 2,
					Rows: map[string]int64{"dataset_sharedschema_v1": 2, "dataset_sharedschema_v1_steps": 6}}),
				"CheckCompleteness": ok(activities.CompletenessResult{Records: 4}),
			}
			if change != nil {
				change(s)
			}
			run, _, err := e.Start(ctx, client.StartWorkflowOptions{ID: e.ID(workflows.BridgeParquetWorkflowID(Environment, sharedSchema), name)},
				s, workflows.BridgeJSONToParquet, workflows.BridgeJSONToParquetInput{Dataset: sharedSchema, Environment: Environment, Parallel: 1})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

func bridgeParquetScanScenario() Scenario {
	out := Output{Workflow: "bridge_parquet_scan", Name: "scanned"}
	return Scenario{Name: "bridge_parquet_scan_scanned", Outputs: []Output{out},
		About: "one dataset found: its BridgeJSONToParquet child run",
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			ds := "scan" + e.Stamp + "_v1"
			e.Expect(workflows.BridgeParquetWorkflowID(Environment, ds), Script{"ListStalePartitions": ok(activities.StalePartitions{}),
				"CheckCompleteness": ok(activities.CompletenessResult{Records: 2})})
			run, _, err := e.Start(ctx, scanStart(e, workflows.BridgeParquetScanProcedure, "bridge-parquet", "scanned"),
				Script{"ListBridgeDatasets": ok(activities.BridgeDatasetsPage{Datasets: []string{ds}})},
				workflows.BridgeParquetScan, workflows.WatcherScanInput{Environment: Environment})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: completed}}, nil
		}}
}
