package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The activity option presets of every procedure, in one place so a reader sees each step's
// time budget and retries side by side. Site steps that wait on a site's worker use
// ScheduleToClose, so a site whose worker is down fails the run within minutes instead of
// waiting forever; long steps heartbeat and resume from their last heartbeat.

// retry is exponential backoff (factor 2) from initial up to max between attempts; attempts 0
// means unlimited (bounded by the step's ScheduleToClose).
func retry(initial, max time.Duration, attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: 2, MaximumInterval: max, MaximumAttempts: attempts}
}

// Notices to operators (all procedures).
var notifyOptions = workflow.ActivityOptions{
	ScheduleToCloseTimeout: 30 * time.Minute, StartToCloseTimeout: time.Minute,
	RetryPolicy: retry(5*time.Second, time.Minute, 10),
}

// ReleaseDeploy: central steps (tag, plan, export) and the site steps.
var (
	tagOptions = workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: retry(2*time.Second, time.Minute, 5)}
	centralOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
		RetryPolicy: retry(time.Second, 30*time.Second, 5)}
	exportOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Hour, HeartbeatTimeout: 5 * time.Minute,
		RetryPolicy: retry(5*time.Second, 2*time.Minute, 3)}
	siteQueryOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 10 * time.Minute, StartToCloseTimeout: time.Minute,
		RetryPolicy: retry(time.Second, 30*time.Second, 0)}
	archiveOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: time.Hour, StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout: time.Minute, RetryPolicy: retry(2*time.Second, time.Minute, 5)}
	serviceOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 15 * time.Minute, StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 3)}
	extractOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: time.Hour, StartToCloseTimeout: 30 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 3)}
	startOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 15 * time.Minute, StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 2)}
	rollbackOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: time.Hour, StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: retry(5*time.Second, time.Minute, 10)}
)

// PackageImport: fetch from S3 (resumable), verify checksums, publish (READY last).
var (
	fetchOptions = workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: retry(5*time.Second, 2*time.Minute, 5)}
	verifyOptions = workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: 5 * time.Minute,
		RetryPolicy: retry(5*time.Second, time.Minute, 3)}
	publishOptions = workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: retry(2*time.Second, time.Minute, 5)}
)

// The tsd-import watchers: listings (retried briefly; the next scheduled scan tries again), the
// lims-exporter's write of one package, the nsc-exporter's settle check and upload (hours for a
// large package, heartbeating the bytes sent and resumed from the uploaded parts). Bounded
// retries, so a package that cannot be handled ends as one clearly failed child.
var (
	listOptions = workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 5)}
	findExportOptions = workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 5)}
	limsExportOptions = workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: retry(5*time.Second, 2*time.Minute, 5)}
	uploadOptions = workflow.ActivityOptions{StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: time.Minute,
		RetryPolicy: retry(5*time.Second, 2*time.Minute, 8)}
)

// Bridge downstream: one archive to JSON (download heartbeats; a refused archive is not
// retried), one drain of the notification queue, one partition to Parquet (heartbeating its
// passes; a retry starts the partition over and overwrites the same files), the completeness check.
var (
	archiveToJSONOptions = workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: retry(2*time.Second, time.Minute, 5)}
	drainOptions = workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 5)}
	convertPartitionOptions = workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: time.Minute,
		RetryPolicy: retry(5*time.Second, 2*time.Minute, 5)}
	completenessOptions = workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: retry(2*time.Second, time.Minute, 5)}
)

// RevalidationSync and RevalidationRollback: search-index steps and broker commands.
var (
	indexOptions   = workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute, RetryPolicy: retry(2*time.Second, time.Minute, 10)}
	commandOptions = workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retry(2*time.Second, time.Minute, 10)}
)

// ingestOptionsFor is the sync's two ingests: hours long, heartbeating, resumed elsewhere
// after heartbeat of silence; the build is dropped only after a cancelled ingest stopped
// writing (WaitForCancellation).
func ingestOptionsFor(heartbeat time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{StartToCloseTimeout: 12 * time.Hour, HeartbeatTimeout: heartbeat,
		WaitForCancellation: true, RetryPolicy: retry(2*time.Second, time.Minute, 20)}
}

// clearQueueOptionsFor is the GMC queue clear before gmcSyncStart: it heartbeats while it
// deletes an earlier run's messages.
func clearQueueOptionsFor(heartbeat time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{StartToCloseTimeout: time.Hour, HeartbeatTimeout: heartbeat,
		RetryPolicy: commandOptions.RetryPolicy}
}
