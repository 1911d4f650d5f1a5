package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// historiesDir holds whole runs recorded from a Temporal server, named
// <workflow>_<code version>_<scenario>.json (see README, "Replay tests"):
//   - release_deploy_v0_*: ReleaseDeploy before the site lock and time limit (commit f9d8c49):
//     deployed nsc and skipped tsd, rolled back after a failed start, a dry run;
//   - release_deploy_v1_*: the same three runs with the site lock (version 1 of
//     "site-lock-and-time-limit", commit a32c33c), and site_busy: a release refused at a site
//     whose lock another release holds;
//   - site_lock_v1_released: a SiteLock child held by a release and released by it;
//   - revalidation_sync_before_gmc_clear: a whole RevalidationSync before "purge-gmc-queue"
//     (commit 6ec4e01);
//   - revalidation_sync_v1_*: RevalidationSync with the GMC queue clear (version 1 of
//     "purge-gmc-queue"), before the sync's own time limit ("sync-time-limit", commit
//     660c52d): succeeded, failed (count check refused), aborted (by update, by signal);
//   - revalidation_sync_v2_*: the same four runs with the sync's own time limit (version 1 of
//     "sync-time-limit", commit 2ef3c6c);
//   - package_import_v1_*: succeeded, failed (checksum mismatch), dry run, before the manifest
//     and the quarantine;
//   - package_import_v2_*: with the quarantine (version 1 of "quarantine-on-mismatch"):
//     succeeded, failed (no manifest), quarantined (checksum mismatch), dry run;
//   - lims_export_scan_v1_*, nsc_export_scan_v1_*, filelock_scan_v1_*: the watchers' scans,
//     each with its children and a listing refused; filelock_scan_v1_continued_as_new is a
//     scan's first run ending in continue-as-new; lims_package_export_v1_* and
//     package_upload_v1_* are the children of those scans (one succeeded, one refused);
//   - bridge_*_v1_*: the Bridge downstream's archive stage (succeeded, refused), its
//     notification poll (drained, failed), sweep (swept with a child, listing refused), the
//     Parquet stage (converted, incomplete, failed) and its scan (scanned, listing refused);
//   - revalidation_rollback_v1_*: succeeded, refused (no earlier build that served);
//   - ella_deploy_v1_*: EllaDeploy approved and rejected by the acceptance Update (the
//     rejection rolls back: stop, symlink back, dump restored, start), and refused at the
//     pre-flight (checksum mismatch, nothing stopped); ella_health_v1_*: an alert raised (one
//     e-mail), ok (none), an alert whose e-mail is refused (the run fails); ella_failover_v1_*:
//     moved to the failover host, refused (a program still runs on the primary).
//
// The *_v1_* runs of SiteLock, PackageImport, RevalidationRollback, the watchers and all but
// revalidation_sync_v1_succeeded of the sync were recorded by
// internal/testsupport/histories (make record-histories LABEL=v1).
//
// Every one must replay on today's code: a run started before an upgrade finishes after it
// without a nondeterminism error. A change to a shipped workflow's command sequence that
// breaks one needs workflow.GetVersion.
const historiesDir = "../testdata/histories"

// allWorkflows are the workflow types a worker registers; the replayer registers them all.
var allWorkflows = []any{ReleaseDeploy, SiteLock, PackageImport, RevalidationSync, RevalidationRollback,
	LimsExportScan, LimsPackageExport, NSCExportScan, PackageUpload, FilelockScan,
	BridgeArchiveToJSON, BridgeNotificationPoll, BridgeArchiveSweep, BridgeJSONToParquet, BridgeParquetScan,
	EllaDeploy, EllaHealth, EllaFailover}

func readHistory(t *testing.T, file string) *historypb.History {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, hist.Events, file)
	return hist
}

func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 18, "recorded histories in %s", historiesDir)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			hist := readHistory(t, file)
			r := worker.NewWorkflowReplayer()
			for _, wf := range allWorkflows {
				r.RegisterWorkflow(wf)
			}
			require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
		})
	}
}

// TestEveryWorkflowTypeHasRecordedHistories: a workflow type without a recorded run would
// have no replay test at all. Every type has a run that completed, and every type that can
// fail has one that failed (SiteLock only ends released).
func TestEveryWorkflowTypeHasRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	ends := map[string]map[enumspb.EventType]bool{}
	for _, file := range files {
		hist := readHistory(t, file)
		started := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
		require.NotNil(t, started, "%s: the first event is the start", file)
		wfType := started.GetWorkflowType().GetName()
		if ends[wfType] == nil {
			ends[wfType] = map[enumspb.EventType]bool{}
		}
		ends[wfType][hist.Events[len(hist.Events)-1].GetEventType()] = true
	}
	for _, wfType := range []string{"ReleaseDeploy", "SiteLock", "PackageImport", "RevalidationSync", "RevalidationRollback",
		"LimsExportScan", "LimsPackageExport", "NSCExportScan", "PackageUpload", "FilelockScan",
		"BridgeArchiveToJSON", "BridgeNotificationPoll", "BridgeArchiveSweep", "BridgeJSONToParquet", "BridgeParquetScan",
		"EllaDeploy", "EllaHealth", "EllaFailover"} {
		assert.True(t, ends[wfType][enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED], "%s: no recorded run that completed", wfType)
		if wfType != "SiteLock" {
			assert.True(t, ends[wfType][enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED], "%s: no recorded run that failed", wfType)
		}
	}
	assert.Len(t, ends, len(allWorkflows), "workflow types in %s: %v", historiesDir, ends)
}
