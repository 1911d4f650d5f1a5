package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// testdata/release_deploy_v0_*.json are histories of whole ReleaseDeploy runs recorded with
// the workflow code before the site lock and the time limit (commit f9d8c49, on a Temporal
// dev server, activities stubbed): a release that deploys nsc and skips an unchanged tsd, one
// whose start fails and is rolled back, and a dry run. A worker running today's code must
// replay each: a release started before an upgrade finishes after it without a
// nondeterminism error.
func TestReleaseDeployReplaysRunsStartedBeforeTheSiteLock(t *testing.T) {
	replayReleaseDeploy(t, "testdata/release_deploy_v0_*.json")
}

// testdata/release_deploy_v1_*.json are the same three runs recorded with the site lock and
// the time limit (version 1 of "site-lock-and-time-limit", commit a32c33c): a later change to
// ReleaseDeploy must still replay them.
func TestReleaseDeployReplaysRunsWithTheSiteLock(t *testing.T) {
	replayReleaseDeploy(t, "testdata/release_deploy_v1_*.json")
}

func replayReleaseDeploy(t *testing.T, pattern string) {
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			require.NoError(t, err)
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(ReleaseDeploy)
			r.RegisterWorkflow(SiteLock)
			require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
		})
	}
}
