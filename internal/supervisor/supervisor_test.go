package supervisor_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

func start(t *testing.T) (*supervisordtest.Instance, *supervisor.Client) {
	inst := supervisordtest.Start(t,
		supervisordtest.Program{Name: "sleeper", Command: "/bin/sh -c 'exec sleep 1000'", AutoStart: true, StartSecs: 1},
		supervisordtest.Program{Name: "crasher", Command: "/bin/sh -c 'exit 3'", StartSecs: 1},
		supervisordtest.Program{Name: "flaky", Command: "/bin/sh -c 'sleep 1.5; exit 4'", StartSecs: 1},
	)
	return inst, inst.Client(t)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStopStartAndStates(t *testing.T) {
	_, c := start(t)
	state, err := c.State(ctx(t))
	require.NoError(t, err)
	assert.Equal(t, "RUNNING", state)

	require.Eventually(t, func() bool {
		info, err := c.ProcessInfo(ctx(t), "sleeper")
		return err == nil && info.StateName == "RUNNING"
	}, 10*time.Second, 100*time.Millisecond)
	info, err := c.ProcessInfo(ctx(t), "sleeper")
	require.NoError(t, err)
	assert.Equal(t, "sleeper", info.Name)
	assert.NotZero(t, info.PID)

	require.NoError(t, c.Stop(ctx(t), "sleeper"))
	info, err = c.ProcessInfo(ctx(t), "sleeper")
	require.NoError(t, err)
	assert.Equal(t, "STOPPED", info.StateName)
	require.NoError(t, c.Stop(ctx(t), "sleeper"), "stopping a stopped process is fine")

	require.NoError(t, c.Start(ctx(t), "sleeper"))
	require.NoError(t, c.Start(ctx(t), "sleeper"), "starting a running process is fine")
	require.NoError(t, c.WaitRunningFor(ctx(t), "sleeper", 600*time.Millisecond))

	all, err := c.AllProcessInfo(ctx(t))
	require.NoError(t, err)
	assert.Len(t, all, 3)
}

func TestStartFailuresAreNamed(t *testing.T) {
	_, c := start(t)
	err := c.Start(ctx(t), "crasher")
	require.Error(t, err)
	assert.True(t, supervisor.IsSpawnFailure(err), "%v", err)
	assert.Contains(t, err.Error(), "crasher")

	err = c.Stop(ctx(t), "no-such-program")
	assert.True(t, supervisor.IsBadName(err), "%v", err)
	assert.False(t, supervisor.IsSpawnFailure(err))
	assert.Contains(t, err.Error(), "no-such-program")

	require.NoError(t, c.Start(ctx(t), "flaky"), "flaky survives startsecs")
	err = c.WaitRunningFor(ctx(t), "flaky", 3*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "flaky")
	assert.Contains(t, err.Error(), "exit status 4")
}

func TestConnectionAndAuthErrors(t *testing.T) {
	inst, _ := start(t)
	bad, err := supervisor.New(inst.URL, inst.Username, "wrong-password-xyz", 5*time.Second)
	require.NoError(t, err)
	_, err = bad.State(ctx(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
	assert.Contains(t, err.Error(), inst.URL)
	assert.NotContains(t, err.Error(), "wrong-password-xyz")

	down, err := supervisor.New("http://127.0.0.1:1/RPC2", "", "", time.Second)
	require.NoError(t, err)
	_, err = down.State(ctx(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "supervisord at http://127.0.0.1:1/RPC2 unreachable")

	_, err = supervisor.New("ftp://x", "", "", 0)
	assert.ErrorContains(t, err, "not an http(s) URL")
}

func TestContextCancellationReturnsPromptly(t *testing.T) {
	_, c := start(t)
	cctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	began := time.Now()
	err := c.WaitRunningFor(cctx, "sleeper", time.Minute)
	require.Error(t, err)
	assert.Less(t, time.Since(began), 5*time.Second)
}
