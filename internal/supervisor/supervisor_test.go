package supervisor_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/supervisor"
)

func TestStateAndProcessInfo(t *testing.T) {
	t.Parallel()
	_, c := start(t, "sleeper", "crasher")

	state, err := c.State(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "RUNNING", state)

	info := waitRunning(t, c, "sleeper")
	assert.Equal(t, "sleeper", info.Name)
	assert.Equal(t, "sleeper", info.Group)
	assert.Equal(t, 20, info.State, "supervisor ProcessStates.RUNNING")
	assert.Positive(t, info.PID)
	assert.Contains(t, info.Description, "pid ")
	assert.Positive(t, info.Start)
	assert.GreaterOrEqual(t, info.Now, info.Start)
	assert.Empty(t, info.SpawnErr)

	stopped, err := c.ProcessInfo(ctx(t), "crasher")
	require.NoError(t, err)
	assert.Equal(t, "STOPPED", stopped.StateName)
	assert.Zero(t, stopped.PID)

	all, err := c.AllProcessInfo(ctx(t))
	require.NoError(t, err)
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
	}
	assert.ElementsMatch(t, []string{"sleeper", "crasher"}, names)
}

func TestStopAndStartAreIdempotent(t *testing.T) {
	t.Parallel()
	_, c := start(t, "sleeper")
	before := waitRunning(t, c, "sleeper")

	require.NoError(t, c.Stop(ctx(t), "sleeper"))
	info, err := c.ProcessInfo(ctx(t), "sleeper")
	require.NoError(t, err)
	assert.Equal(t, "STOPPED", info.StateName, "Stop waits until the process is down")
	require.NoError(t, c.Stop(ctx(t), "sleeper"), "stopping a stopped process is success")

	require.NoError(t, c.Start(ctx(t), "sleeper"))
	info, err = c.ProcessInfo(ctx(t), "sleeper")
	require.NoError(t, err)
	assert.Equal(t, "RUNNING", info.StateName, "Start waits out startsecs")
	assert.NotEqual(t, before.PID, info.PID)

	require.NoError(t, c.Start(ctx(t), "sleeper"), "starting a running process is success")
	again, err := c.ProcessInfo(ctx(t), "sleeper")
	require.NoError(t, err)
	assert.Equal(t, info.PID, again.PID, "a second Start must not restart it")
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	inst, c := start(t, "crasher", "missing")

	t.Run("exits before startsecs", func(t *testing.T) {
		err := c.Start(ctx(t), "crasher")
		require.Error(t, err)
		assert.True(t, supervisor.IsSpawnFailure(err), "%v", err)
		assert.False(t, supervisor.IsBadName(err))
		assert.Contains(t, err.Error(), "crasher")
		assert.Contains(t, err.Error(), "crasher is FATAL (Exited too quickly", "the error carries what supervisord saw")
		var fault *supervisor.FaultError
		require.ErrorAs(t, err, &fault)
		assert.Equal(t, "crasher", fault.Process)
		assert.Equal(t, "supervisor.startProcess", fault.Method)
	})
	t.Run("no such file", func(t *testing.T) {
		err := c.Start(ctx(t), "missing")
		require.Error(t, err)
		assert.True(t, supervisor.IsSpawnFailure(err), "%v", err)
		assert.Contains(t, err.Error(), "missing")
	})
	t.Run("unknown name", func(t *testing.T) {
		for _, call := range []func(context.Context, string) error{c.Stop, c.Start} {
			err := call(ctx(t), "no-such-program")
			assert.True(t, supervisor.IsBadName(err), "%v", err)
			assert.False(t, supervisor.IsSpawnFailure(err))
			assert.Contains(t, err.Error(), "no-such-program")
			assert.Contains(t, err.Error(), "supervisord at "+inst.URL+": ", "the host is named")
		}
		_, err := c.ProcessInfo(ctx(t), "no-such-program")
		assert.True(t, supervisor.IsBadName(err), "%v", err)
	})
	t.Run("classifiers reject other errors", func(t *testing.T) {
		for _, err := range []error{nil, errors.New("BAD_NAME"), context.Canceled} {
			assert.False(t, supervisor.IsBadName(err))
			assert.False(t, supervisor.IsSpawnFailure(err))
		}
	})
}

func TestWaitRunningFor(t *testing.T) {
	t.Parallel()
	_, c := start(t, "sleeper", "flaky", "crasher")
	waitRunning(t, c, "sleeper")

	began := time.Now()
	require.NoError(t, c.WaitRunningFor(ctx(t), "sleeper", 700*time.Millisecond))
	assert.GreaterOrEqual(t, time.Since(began), 700*time.Millisecond, "it must watch for the whole window")

	require.NoError(t, c.Start(ctx(t), "flaky"), "flaky outlives startsecs")
	err := c.WaitRunningFor(ctx(t), "flaky", 3*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "flaky is EXITED")
	assert.Contains(t, err.Error(), "exit status 4")
	assert.Less(t, time.Since(began), 3*time.Second+700*time.Millisecond, "it fails as soon as the process dies")

	err = c.WaitRunningFor(ctx(t), "crasher", time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "crasher is STOPPED", "a process not RUNNING now fails at once")
}

func TestEndpointErrors(t *testing.T) {
	t.Parallel()
	inst, _ := start(t, "slow")

	t.Run("wrong password", func(t *testing.T) {
		bad, err := supervisor.New(inst.URL, inst.Username, "wrong-password-xyz", 5*time.Second)
		require.NoError(t, err)
		_, err = bad.State(ctx(t))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "401")
		assert.Contains(t, err.Error(), inst.URL)
		assert.NotContains(t, err.Error(), "wrong-password-xyz")
	})
	t.Run("credentials in the URL", func(t *testing.T) {
		withCreds := strings.Replace(inst.URL, "http://", "http://"+inst.Username+":"+inst.Password+"@", 1)
		good, err := supervisor.New(withCreds, "", "", 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, inst.URL, good.Endpoint())
		state, err := good.State(ctx(t))
		require.NoError(t, err)
		assert.Equal(t, "RUNNING", state)

		bad, err := supervisor.New(strings.Replace(withCreds, inst.Password, "secret-in-url", 1), "", "", 5*time.Second)
		require.NoError(t, err)
		_, err = bad.State(ctx(t))
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "secret-in-url")
	})
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + l.Addr().String() + "/RPC2"
		require.NoError(t, l.Close())
		down, err := supervisor.New(url, "u", "pw-not-shown", time.Second)
		require.NoError(t, err)
		_, err = down.State(ctx(t))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "supervisord at "+url+" unreachable: ")
		assert.NotContains(t, err.Error(), "pw-not-shown")
	})
	t.Run("call timeout", func(t *testing.T) {
		short, err := supervisor.New(inst.URL, inst.Username, inst.Password, 300*time.Millisecond)
		require.NoError(t, err)
		began := time.Now()
		err = short.Start(ctx(t), "slow")
		require.Error(t, err)
		assert.Less(t, time.Since(began), 3*time.Second)
		assert.Contains(t, err.Error(), "supervisor.startProcess(slow) timed out after 300ms")
	})
	t.Run("not a URL", func(t *testing.T) {
		_, err := supervisor.New("ftp://x", "", "", 0)
		assert.ErrorContains(t, err, "not an http(s) URL")
		for _, endpoint := range []string{"ftp://u:hunter2@x", "http://u:hunter2@x/%zz"} {
			_, err = supervisor.New(endpoint, "", "", 0)
			require.Error(t, err, endpoint)
			assert.NotContains(t, err.Error(), "hunter2")
		}
	})
}

func TestContextCancellationReturnsPromptly(t *testing.T) {
	t.Parallel()
	_, c := start(t, "sleeper", "slow")
	waitRunning(t, c, "sleeper")

	cancelSoon := func() context.Context {
		cctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		time.AfterFunc(200*time.Millisecond, cancel)
		return cctx
	}
	t.Run("during a call", func(t *testing.T) {
		began := time.Now()
		err := c.Start(cancelSoon(), "slow") // startsecs 10: the call blocks
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(began), 2*time.Second)
		assert.Contains(t, err.Error(), "slow")
	})
	t.Run("while waiting", func(t *testing.T) {
		began := time.Now()
		err := c.WaitRunningFor(cancelSoon(), "sleeper", time.Minute)
		require.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(began), 2*time.Second)
		assert.Contains(t, err.Error(), "sleeper")
	})
}
