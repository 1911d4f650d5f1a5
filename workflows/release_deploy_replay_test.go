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
	files, err := filepath.Glob("testdata/release_deploy_v0_*.json")
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
			require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
		})
	}
}
