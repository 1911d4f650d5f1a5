package supervisor_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/supervisor"
)

// A retried Stop (the first call timed out, say) finds supervisord answering NOT_RUNNING
// while the process is still STOPPING: it must wait, not report the service down.
func TestStopWaitsForAStopUnderWay(t *testing.T) {
	t.Parallel()
	_, c := start(t, "lingering")
	require.NoError(t, c.Start(ctx(t), "lingering"))

	first := make(chan error, 1)
	firstCtx := ctx(t)
	go func() { first <- c.Stop(firstCtx, "lingering") }()
	waitState(t, c, "lingering", "STOPPING")

	require.NoError(t, c.Stop(ctx(t), "lingering"))
	info, err := c.ProcessInfo(ctx(t), "lingering")
	require.NoError(t, err)
	assert.Equal(t, "STOPPED", info.StateName, "the second Stop returns once the first one is done")
	require.NoError(t, <-first)
}

// Likewise supervisord answers ALREADY_STARTED while a start is under way: Start must
// wait for its outcome.
func TestStartWaitsForAStartUnderWay(t *testing.T) {
	t.Parallel()
	_, c := start(t, "warming", "latecrasher")

	t.Run("that succeeds", func(t *testing.T) {
		t.Parallel()
		first := make(chan error, 1)
		firstCtx := ctx(t)
		go func() { first <- c.Start(firstCtx, "warming") }()
		waitState(t, c, "warming", "STARTING")

		require.NoError(t, c.Start(ctx(t), "warming"))
		info, err := c.ProcessInfo(ctx(t), "warming")
		require.NoError(t, err)
		assert.Equal(t, "RUNNING", info.StateName, "the second Start returns once startsecs passed")
		require.NoError(t, <-first)
	})
	t.Run("that fails", func(t *testing.T) {
		t.Parallel()
		first := make(chan error, 1)
		firstCtx := ctx(t)
		go func() { first <- c.Start(firstCtx, "latecrasher") }()
		waitState(t, c, "latecrasher", "STARTING")

		err := c.Start(ctx(t), "latecrasher")
		require.Error(t, err)
		assert.True(t, supervisor.IsSpawnFailure(err), "%v", err)
		assert.Contains(t, err.Error(), "latecrasher is FATAL (Exited too quickly")
		firstErr := <-first
		assert.True(t, supervisor.IsSpawnFailure(firstErr), "%v", firstErr)
	})
}

// A process that autorestart brings back between two looks is RUNNING both times, with
// another PID. A proxy in front of the real supervisord restarts it just before the
// second look, so the test does not depend on timing.
func TestWaitRunningForNoticesARestart(t *testing.T) {
	t.Parallel()
	inst, c := start(t, "sleeper")
	before := waitRunning(t, c, "sleeper")

	target, err := url.Parse(inst.URL)
	require.NoError(t, err)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.Out.URL.Scheme, r.Out.URL.Host = target.Scheme, target.Host
	}}
	var looks atomic.Int32
	restarts := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if looks.Add(1) == 2 {
			err := c.Stop(r.Context(), "sleeper")
			if err == nil {
				err = c.Start(r.Context(), "sleeper")
			}
			restarts <- err
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	watched, err := supervisor.New(srv.URL+target.Path, inst.Username, inst.Password, 10*time.Second)
	require.NoError(t, err)

	err = watched.WaitRunningFor(ctx(t), "sleeper", 5*time.Second)
	require.NoError(t, <-restarts)
	require.Error(t, err)
	after, infoErr := c.ProcessInfo(ctx(t), "sleeper")
	require.NoError(t, infoErr)
	assert.Contains(t, err.Error(), "sleeper restarted while it should have stayed up")
	assert.Contains(t, err.Error(), fmt.Sprintf("(pid %d, now %d)", before.PID, after.PID))
}
