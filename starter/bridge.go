package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/workflows"
)

// runBridge starts the Bridge downstream by hand: one archive (--key, stage 1; the run's id is
// its record id, read from the object's metadata, so an archive already processed or in flight
// is not started again) or one dataset's conversion (--dataset, stage 2).
func runBridge(args []string) error {
	fs, cfg := commandFlags("bridge", true)
	key := fs.String("key", "", "archive to process, s3://<bucket>/<key> (stage 1, BridgeArchiveToJSON)")
	dataset := fs.String("dataset", "", "dataset to convert to Parquet, e.g. sharedSchema_v1 (stage 2, BridgeJSONToParquet)")
	wait := fs.Bool("wait", false, "wait for the result; exit 1 if the run fails")
	s3cfg := config.Default().S3
	fs.StringVar(&s3cfg.Endpoint, "s3-endpoint", config.Env("OPSFLOW_S3_ENDPOINT", s3cfg.Endpoint), "S3 endpoint holding the archive (OPSFLOW_S3_ENDPOINT)")
	fs.StringVar(&s3cfg.Region, "s3-region", config.Env("OPSFLOW_S3_REGION", s3cfg.Region), "S3 region (OPSFLOW_S3_REGION)")
	s3cfg.AccessKey = config.Env("OPSFLOW_S3_ACCESS_KEY", s3cfg.AccessKey)
	s3cfg.SecretKey = config.Env("OPSFLOW_S3_SECRET_KEY", s3cfg.SecretKey)
	if err := parse(fs, cfg, args); err != nil {
		return err
	}
	if (*key == "") == (*dataset == "") {
		return errors.New("bridge: give --key s3://<bucket>/<key> or --dataset <id>")
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if *dataset != "" {
		if err := bridge.CheckDataset(*dataset); err != nil {
			return fmt.Errorf("bridge: --dataset: %w", err)
		}
		return s.start(launch{what: "BridgeJSONToParquet of " + *dataset,
			opts: client.StartWorkflowOptions{ID: workflows.BridgeParquetWorkflowID(cfg.Environment, *dataset), TaskQueue: cfg.Temporal.TaskQueue,
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, WorkflowExecutionTimeout: 24 * time.Hour,
				TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("BridgeJSONToParquet"),
					workflows.PackageKey.ValueSet(*dataset), workflows.EnvironmentKey.ValueSet(cfg.Environment))},
			workflow: workflows.BridgeJSONToParquet, input: workflows.BridgeJSONToParquetInput{Dataset: *dataset, Environment: cfg.Environment},
			wait: *wait, result: &workflows.BridgeJSONToParquetResult{}})
	}
	bucket, objectKey, ok := strings.Cut(strings.TrimPrefix(*key, "s3://"), "/")
	if !strings.HasPrefix(*key, "s3://") || !ok || bucket == "" || objectKey == "" {
		return fmt.Errorf("bridge: --key %q is not s3://<bucket>/<key>", *key)
	}
	s3c, err := s3store.New(s.ctx, s3cfg)
	if err != nil {
		return err
	}
	head, found, err := s3store.Head(s.ctx, s3c, bucket, objectKey)
	if err != nil {
		return fmt.Errorf("bridge: %s: %w", *key, err)
	}
	if !found {
		return fmt.Errorf("bridge: no archive at %s", *key)
	}
	recordID := head.Metadata["recordid"]
	if err := bridge.CheckRecordID(recordID); err != nil {
		return fmt.Errorf("bridge: %s: its recordid metadata: %w", *key, err)
	}
	archive := activities.BridgeArchive{Bucket: bucket, Key: objectKey, RecordID: recordID}
	return s.start(launch{what: "BridgeArchiveToJSON of record " + recordID, whatRunning: "BridgeArchiveToJSON of record " + recordID,
		opts: client.StartWorkflowOptions{ID: workflows.BridgeArchiveWorkflowID(recordID), TaskQueue: cfg.Temporal.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY, WorkflowExecutionTimeout: 24 * time.Hour,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("BridgeArchiveToJSON"),
				workflows.PackageKey.ValueSet(recordID), workflows.EnvironmentKey.ValueSet(cfg.Environment))},
		workflow: workflows.BridgeArchiveToJSON, input: workflows.BridgeArchiveToJSONInput{Archive: archive, Environment: cfg.Environment},
		wait: *wait, result: &activities.ArchiveToJSONResult{}})
}
