package workflows

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// testdata/revalidation_sync_before_gmc_clear.json is the history of a whole RevalidationSync
// recorded with the workflow code before the "purge-gmc-queue" change (commit 6ec4e01, on a
// Temporal dev server, activities stubbed). A worker running today's code must replay it: a
// sync started before an upgrade finishes after it without a nondeterminism error.
func TestRevalidationSyncReplaysARunStartedBeforeTheGMCClear(t *testing.T) {
	f, err := os.Open("testdata/revalidation_sync_before_gmc_clear.json")
	require.NoError(t, err)
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(RevalidationSync)
	require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
}
