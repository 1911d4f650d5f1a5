//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/workflows"
)

// TestHistoryHoldsNoClearText plants a marker in a run's input and, through an unknown
// site, in its failure message; the history read straight from the server must not contain
// it, while the same history read through the codec server does.
func TestHistoryHoldsNoClearText(t *testing.T) {
	d := newDeployment(t)
	d.startWorker()
	marker := fmt.Sprintf("sample-Diag-wgs%d-PLANTED", time.Now().UnixNano()%1000000)
	id := "codec-check-" + d.taskQueue

	run, err := d.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: d.taskQueue},
		workflows.ReleaseDeploy, workflows.ReleaseDeployInput{Version: "v1.0.0-rel", Sites: []string{marker}})
	require.NoError(t, err)
	err = run.Get(waitCtx(t, 2*time.Minute), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), marker, "through the codec the failure names the site")

	raw := d.temporalCLI("workflow", "show", "--workflow-id", id, "--output", "json")
	assert.Contains(t, raw, "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED", "the history is there")
	assert.Contains(t, raw, `"message": "Encoded failure"`)
	assert.NotContains(t, raw, marker)
	assert.NotContains(t, payloadData(t, raw), marker, "no clear text in the raw history: input and failure message are encrypted")

	token, err := os.ReadFile(os.Getenv("OPSFLOW_CODEC_TOKEN_FILE"))
	require.NoError(t, err)
	decoded := d.temporalCLI("workflow", "show", "--workflow-id", id, "--output", "json",
		"--codec-endpoint", os.Getenv("OPSFLOW_CODEC_URL"), "--codec-auth", "Bearer "+strings.TrimSpace(string(token)))
	assert.Contains(t, payloadData(t, decoded), marker, "through the codec server the history reads in clear")

	out, err := execOut(d.stack.temporalBin, "workflow", "show", "--workflow-id", id, "--output", "json",
		"--address", d.stack.address, "--codec-endpoint", os.Getenv("OPSFLOW_CODEC_URL"), "--codec-auth", "Bearer wrong-token")
	assert.Error(t, err, "a wrong token is refused: %s", out)
	assert.NotContains(t, payloadData(t, out), marker, "a wrong token decodes nothing")

	// The worker's log said what failed without naming the site.
	log, err := os.ReadFile(filepath.Join(d.dir, "worker.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "UnknownSite")
	assert.NotContains(t, string(log), marker, "logs carry error types, not error texts")
}

var dataField = regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]*)"`)

// payloadData decodes every base64 "data" field of a JSON history, where payload contents live.
func payloadData(t *testing.T, history string) string {
	var b strings.Builder
	for _, m := range dataField.FindAllStringSubmatch(history, -1) {
		raw, err := base64.StdEncoding.DecodeString(m[1])
		require.NoError(t, err)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}
