package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// EllaDeploy's activity options. A migration is tried once: a failed migration rolls the
// deploy back (the dump is restored) rather than running again on a half-migrated schema.
// Rollback steps retry longest: ELLA is down until they succeed.
var (
	ellaCheckOptions = workflow.ActivityOptions{StartToCloseTimeout: 20 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 3)}
	ellaMailOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 15 * time.Minute, StartToCloseTimeout: time.Minute,
		RetryPolicy: retry(5*time.Second, time.Minute, 0)}
	ellaCommandOptions = workflow.ActivityOptions{StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 3)}
	ellaProgramsOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 20 * time.Minute, StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: retry(2*time.Second, 30*time.Second, 3)}
	ellaBackupOptions = workflow.ActivityOptions{StartToCloseTimeout: 4 * time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: retry(10*time.Second, 2*time.Minute, 3)}
	ellaMigrateOptions = workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: retry(time.Second, time.Second, 1)}
	ellaRollbackOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 6 * time.Hour, StartToCloseTimeout: 4 * time.Hour,
		HeartbeatTimeout: 2 * time.Minute, RetryPolicy: retry(5*time.Second, 2*time.Minute, 10)}
)
