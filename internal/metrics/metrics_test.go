package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryWritesPrometheusText(t *testing.T) {
	r := NewRegistry("opsflow_")
	h := r.Handler().WithTags(map[string]string{"workflow_type": "ReleaseDeploy"})
	h.Counter("temporal_workflow_completed").Inc(1)
	h.Counter("temporal_workflow_completed").Inc(2)
	h.WithTags(map[string]string{"activity_type": "ExtractRelease"}).Timer("temporal_activity_execution_latency").Record(300 * time.Millisecond)
	r.Handler().Gauge("temporal.worker.slots").Update(4)

	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	assert.Contains(t, text, "# TYPE opsflow_temporal_workflow_completed counter\n")
	assert.Contains(t, text, `opsflow_temporal_workflow_completed{workflow_type="ReleaseDeploy"} 3`)
	assert.Contains(t, text, `opsflow_temporal_activity_execution_latency_bucket{activity_type="ExtractRelease",workflow_type="ReleaseDeploy",le="0.5"} 1`)
	assert.Contains(t, text, `opsflow_temporal_activity_execution_latency_bucket{activity_type="ExtractRelease",workflow_type="ReleaseDeploy",le="0.1"} 0`)
	assert.Contains(t, text, `opsflow_temporal_activity_execution_latency_count{activity_type="ExtractRelease",workflow_type="ReleaseDeploy"} 1`)
	assert.Contains(t, text, "opsflow_temporal_worker_slots 4\n", "dots become underscores")
	assert.Equal(t, 1, strings.Count(text, "# TYPE opsflow_temporal_workflow_completed "))
}
