//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsflow/opsflow/workflows"
)

// TestReleaseSiteLockRefusesASecondReleaseEndToEnd runs two releases at one site on the real
// server. The central worker runs alone at first, so release A takes nsc's deploy lock and
// then waits for the site's worker; release B reaches nsc meanwhile and must be refused
// (SiteBusy) without touching the site. Once the site worker runs, A deploys and frees the
// lock, and B, started again, deploys. The starter gives runs a server-side limit well after
// their own time limit plus a rollback and a notice.
func TestReleaseSiteLockRefusesASecondReleaseEndToEnd(t *testing.T) {
	d := newDeployment(t)
	d.startWorkerNamed("central", "OPSFLOW_WORKER_SITES=none")
	lockID := workflows.SiteLockWorkflowID(d.taskQueue + "-site-nsc")

	idA := "release-v1.0.0-rel-" + d.taskQueue
	out, err := d.starter("release", "--version", "v1.0.0-rel", "--workflow-id", idA)
	require.NoError(t, err, out)
	require.Eventually(t, func() bool {
		desc, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), lockID, "")
		return err == nil && desc.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, time.Minute, 250*time.Millisecond, "release A holds nsc's lock %s", lockID)
	desc, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), idA, "")
	require.NoError(t, err)
	assert.Equal(t, workflows.ReleaseDeployExecutionTimeout(workflows.ReleaseDeployDefaultTimeLimit),
		desc.ExecutionConfig.WorkflowExecutionTimeout.AsDuration(), "6h limit + 1h45m wind-down + 1h")
	assert.Greater(t, desc.ExecutionConfig.WorkflowExecutionTimeout.AsDuration(), 6*time.Hour+workflows.ReleaseDeployWindDown)

	idB := "release-v1.0.1-rel-" + d.taskQueue
	out, err = d.starter("release", "--version", "v1.0.1-rel", "--workflow-id", idB, "--wait")
	require.Error(t, err, out)
	assert.Contains(t, out, workflows.ErrSiteBusy)
	assert.Contains(t, out, lockID)
	assert.Contains(t, out, "nothing was stopped")
	_, statErr := os.Stat(filepath.Join(d.siteDir("nsc"), "sw"))
	assert.True(t, os.IsNotExist(statErr), "B touched nothing on nsc (A waits for the site worker)")

	d.startWorkerNamed("sites", "OPSFLOW_WORKER_CENTRAL=false", "OPSFLOW_METRICS_ADDR="+freeAddr(t))
	var resA workflows.ReleaseDeployResult
	require.NoError(t, d.client.GetWorkflow(waitCtx(t, 3*time.Minute), idA, "").Get(waitCtx(t, 3*time.Minute), &resA))
	assert.True(t, resA.Sites[0].Deployed)
	assertRuns(t, d, "nsc", "v1.0.0-rel")
	desc, err = d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), lockID, "")
	require.NoError(t, err)
	assert.NotEqual(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "A freed the lock")
	assertListed(t, d, fmt.Sprintf(`OpsflowProcedure = "SiteLock" AND OpsflowEnvironment = %q AND OpsflowSite = "nsc" AND WorkflowId = %q`,
		d.environment, lockID), lockID)

	out, err = d.starter("release", "--version", "v1.0.1-rel", "--workflow-id", idB, "--sites", "nsc", "--force", "--wait")
	require.NoError(t, err, out)
	assert.Contains(t, out, "status: COMPLETED")
	assertRuns(t, d, "nsc", "v1.0.1-rel")
}
