package supervisor_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// programs has one program per behaviour under test; each test runs the few it needs,
// so that a dozen parallel supervisords stay light.
var programs = map[string]supervisordtest.Program{
	"sleeper": {Command: "/bin/sh -c 'exec sleep 1000'", AutoStart: true, StartSecs: 1},
	"crasher": {Command: "/bin/sh -c 'exit 3'", StartSecs: 2},
	"flaky":   {Command: "/bin/sh -c 'sleep 1.5; exit 4'", StartSecs: 1},
	"missing": {Command: "/nonexistent/opsflow-test-binary", StartSecs: 1},
	"slow":    {Command: "/bin/sh -c 'exec sleep 1000'", StartSecs: 10},
	// Takes 2s to start, or dies during its start.
	"warming":     {Command: "/bin/sh -c 'exec sleep 1000'", StartSecs: 2},
	"latecrasher": {Command: "/bin/sh -c 'sleep 1; exit 3'", StartSecs: 3},
	// Takes 1.5s to stop: SIGTERM (to its whole group) runs the trap.
	"lingering": {Command: `/bin/sh -c 'trap "sleep 1.5; exit 0" TERM; sleep 1000 & wait'`, StartSecs: 1},
}

// start runs a private supervisord with the named programs.
func start(t *testing.T, names ...string) (*supervisordtest.Instance, *supervisor.Client) {
	t.Helper()
	var selected []supervisordtest.Program
	for _, name := range names {
		p, ok := programs[name]
		require.True(t, ok, "no test program %q", name)
		p.Name = name
		selected = append(selected, p)
	}
	inst := supervisordtest.Start(t, selected...)
	return inst, inst.Client(t)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func waitRunning(t *testing.T, c *supervisor.Client, name string) supervisor.ProcessInfo {
	t.Helper()
	return waitState(t, c, name, "RUNNING")
}

// waitState polls (more often than the client does) until the process is in state.
func waitState(t *testing.T, c *supervisor.Client, name, state string) supervisor.ProcessInfo {
	t.Helper()
	var info supervisor.ProcessInfo
	require.Eventually(t, func() bool {
		var err error
		info, err = c.ProcessInfo(ctx(t), name)
		return err == nil && info.StateName == state
	}, 10*time.Second, 20*time.Millisecond, "%s never became %s: %+v", name, state, info)
	return info
}
