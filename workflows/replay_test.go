package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// historiesDir holds whole runs recorded from a Temporal server, by workflow type and code
// version (see README, "Replay tests"):
//   - release_deploy_v0_*: ReleaseDeploy before the site lock and time limit (commit f9d8c49):
//     deployed nsc and skipped tsd, rolled back after a failed start, a dry run;
//   - release_deploy_v1_*: the same three runs with the site lock (version 1 of
//     "site-lock-and-time-limit", commit a32c33c);
//   - revalidation_sync_before_gmc_clear: a whole RevalidationSync before "purge-gmc-queue"
//     (commit 6ec4e01);
//   - revalidation_sync_v1_succeeded: a whole RevalidationSync with the GMC queue clear
//     (version 1 of "purge-gmc-queue"), before the sync's own time limit ("sync-time-limit",
//     commit 660c52d).
//
// Every one must replay on today's code: a run started before an upgrade finishes after it
// without a nondeterminism error. A change to a shipped workflow's command sequence that
// breaks one needs workflow.GetVersion.
const historiesDir = "../testdata/histories"

func TestRecordedHistoriesReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 7, "recorded histories in %s", historiesDir)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			require.NoError(t, err)
			r := worker.NewWorkflowReplayer()
			for _, wf := range []any{ReleaseDeploy, SiteLock, PackageImport, RevalidationSync, RevalidationRollback} {
				r.RegisterWorkflow(wf)
			}
			require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
		})
	}
}
