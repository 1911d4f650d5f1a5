package activities

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

func TestNotifyOperatorsPostsOneNoticeWithTheLink(t *testing.T) {
	var got []map[string]any
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		got = append(got, m)
	}))
	defer receiver.Close()
	acts := &NotifyActivities{WebhookURL: receiver.URL, UIURL: "http://127.0.0.1:8233/", Namespace: "default"}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	v, err := env.ExecuteActivity(acts.NotifyOperators, Notice{Kind: "failed", Procedure: "ReleaseDeploy", WorkflowID: "release-v1.4.0-rel", RunID: "r1", Step: "deploy nsc", ErrorType: "SiteDeployRolledBack"})
	require.NoError(t, err)
	var status string
	require.NoError(t, v.Get(&status))
	assert.Equal(t, "webhook notified", status)
	require.Len(t, got, 1)
	assert.Contains(t, got[0]["text"], "http://127.0.0.1:8233/namespaces/default/workflows/release-v1.4.0-rel/r1")
	assert.Equal(t, "SiteDeployRolledBack", got[0]["notice"].(map[string]any)["errorType"])

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer failing.Close()
	acts.WebhookURL = failing.URL
	_, err = env.ExecuteActivity(acts.NotifyOperators, Notice{Kind: "stuck", WorkflowID: "x", RunID: "y"})
	assert.ErrorContains(t, err, "HTTP 502")
}
