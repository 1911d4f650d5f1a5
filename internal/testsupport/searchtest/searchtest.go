// Package searchtest gives a test the real search engine of the dev stack (OpenSearch, or any
// cluster named by OPSFLOW_ES_URL) with the revalidation sync's names cleared. The sync's index
// pattern and aliases are the services' contract and cannot be made unique per test, so tests
// that use them are serialised across test binaries (revallock) and start from a clean slate.
package searchtest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/testsupport/revallock"
)

// URL is the engine the tests use. A test that needs one fails (never skips) without it:
// `make test` sets it from scripts/stack env.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("OPSFLOW_ES_URL")
	if u == "" {
		t.Fatal(`OPSFLOW_ES_URL is not set: start the stack's OpenSearch and export its address: scripts/stack up && eval "$(scripts/stack env)"`)
	}
	return u
}

// Client returns a client for URL without touching the cluster (tests with unique names).
func Client(t testing.TB) *esclient.Client {
	t.Helper()
	c, err := esclient.New(URL(t))
	require.NoError(t, err)
	return c
}

// Fresh serialises the test with every other test of the revalidation names, then deletes
// every masterdoctorindex* index (and so its aliases) before the test and after it. It
// refuses a cluster that is not disposable: the stack's own (cluster name opsflow-dev) or one
// the caller vouches for with OPSFLOW_ES_DISPOSABLE=true.
func Fresh(t testing.TB) *esclient.Client {
	t.Helper()
	revallock.Lock(t)
	c := Client(t)
	requireDisposable(t, URL(t))
	wipe(t, c)
	t.Cleanup(func() { wipe(t, c) })
	return c
}

func requireDisposable(t testing.TB, url string) {
	t.Helper()
	if os.Getenv("OPSFLOW_ES_DISPOSABLE") == "true" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "search engine at %s", url)
	defer resp.Body.Close()
	var info struct {
		ClusterName string `json:"cluster_name"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&info), "search engine at %s: GET /", url)
	if info.ClusterName != "opsflow-dev" {
		t.Fatalf("the cluster at %s is %q, not the stack's opsflow-dev: these tests delete masterdoctorindex* and move its aliases; "+
			"set OPSFLOW_ES_DISPOSABLE=true if it is a disposable cluster", url, info.ClusterName)
	}
}

func wipe(t testing.TB, c *esclient.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all, err := c.ListIndices(ctx, reval.MasterDoctorAlias+"*")
	require.NoError(t, err)
	for _, ix := range all {
		if err := c.DeleteIndex(ctx, ix.Name); err != nil && !esclient.IsNotFound(err) {
			require.NoError(t, err)
		}
	}
}
