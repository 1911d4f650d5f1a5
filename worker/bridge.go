package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/safearchive"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/workflows"
)

// defaultBridgeMapping is the demo's dataset mapping, used when OPSFLOW_BRIDGE_MAPPING is unset
// and the worker runs from the repository.
const defaultBridgeMapping = "testdata/bridge/mapping.json"

// registerBridge wires the Bridge downstream pipeline on the central queue: it loads the dataset
// mapping, creates the buckets and queues, and registers both stages and their scheduled scans.
// Without a mapping (none configured and the demo's not found) the pipeline is not registered.
func registerBridge(h *host) error {
	if h.central == nil {
		return nil
	}
	cfg := h.cfg.Bridge
	path := cfg.MappingFile
	if path == "" {
		if _, err := os.Stat(defaultBridgeMapping); err != nil {
			slog.Info("Bridge downstream not registered: no dataset mapping (OPSFLOW_BRIDGE_MAPPING)")
			return nil
		}
		path = defaultBridgeMapping
	}
	mapping, err := bridge.LoadMapping(path)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	s3c, err := h.S3()
	if err != nil {
		return err
	}
	for _, b := range []string{cfg.ArchiveBucket, cfg.DataBucket} {
		if err := s3store.EnsureBucket(h.ctx, s3c, b); err != nil {
			return fmt.Errorf("bridge: %w", err)
		}
	}
	sqsc, err := sqsclient.New(h.ctx, h.cfg.Reval.SQSEndpoint, h.cfg.Reval.SQSRegion)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	notifications, err := sqsc.EnsureQueue(h.ctx, cfg.NotificationQueue)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	invalid, err := sqsc.EnsureQueue(h.ctx, cfg.InvalidQueue)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	for _, wf := range []any{workflows.BridgeArchiveToJSON, workflows.BridgeNotificationPoll, workflows.BridgeArchiveSweep,
		workflows.BridgeJSONToParquet, workflows.BridgeParquetScan} {
		h.central.RegisterWorkflow(wf)
	}
	h.central.RegisterActivity(&activities.BridgeArchiveActivities{S3: s3c, SQS: sqsc, ArchiveBucket: cfg.ArchiveBucket,
		DataBucket: cfg.DataBucket, InvalidQueueURL: invalid, NotificationQueueURL: notifications, Mapping: mapping,
		Limits: safearchive.ZipLimits{MaxEntries: cfg.MaxEntries, MaxBytes: int64(cfg.MaxMiB) << 20, MaxRatio: cfg.MaxRatio},
		Start:  archiveStarter(h.client, h.cfg.Temporal.TaskQueue, h.cfg.Environment)})
	h.central.RegisterActivity(&activities.BridgeParquetActivities{S3: s3c, Bucket: cfg.DataBucket})
	slog.Info("Bridge downstream registered", "mapping", path, "archives", cfg.ArchiveBucket, "data", cfg.DataBucket,
		"notifications", notifications)
	return nil
}

// archiveStarter starts BridgeArchiveToJSON for a record under its id: a record already
// started (running, or done) is not started again, so a redelivered notification is a no-op.
func archiveStarter(c client.Client, taskQueue, environment string) activities.ArchiveStarter {
	return func(ctx context.Context, recordID string, archive activities.BridgeArchive) (bool, error) {
		if err := bridge.CheckRecordID(recordID); err != nil {
			return false, err
		}
		archive.RecordID = recordID
		opts := client.StartWorkflowOptions{
			ID:                       workflows.BridgeArchiveWorkflowID(recordID),
			TaskQueue:                taskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			// Without it the SDK hands back the run already there as if it had been started.
			WorkflowExecutionErrorWhenAlreadyStarted: true,
			WorkflowExecutionTimeout:                 24 * time.Hour,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("BridgeArchiveToJSON"),
				workflows.PackageKey.ValueSet(recordID), workflows.EnvironmentKey.ValueSet(environment)),
		}
		_, err := c.ExecuteWorkflow(ctx, opts, workflows.BridgeArchiveToJSON,
			workflows.BridgeArchiveToJSONInput{Archive: archive, Environment: environment})
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			return false, nil
		}
		return err == nil, err
	}
}
