package activities

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// Two hosts, two supervisords: the fixture's (the primary, ELLA running) and a failover one
// with the same programs stopped, serving its page on another port, on the same database.
// EllaFailover's guard (EllaProgramStates with RequireStopped) refuses while the primary's
// programs run; once StopElla stopped them, ELLA starts on the failover host. The workflow
// runs these on each host's task queue (workflows.EllaFailover); a test of the workflow across
// two real workers needs two workers polling two task queues, each with its own supervisord.
func TestEllaFailoverGuardOnTwoSupervisords(t *testing.T) {
	f := newEllaFixture(t)
	port := ellaFreePort(t)
	link := filepath.Join(f.dir, ella.ProductionLink)
	var programs []supervisordtest.Program
	for _, mode := range ellastub.Modes {
		programs = append(programs, supervisordtest.Program{Name: mode, StartSecs: 1, Directory: f.dir,
			Command:     fmt.Sprintf("%s serve --mode %s --image %s --listen 127.0.0.1:%d", f.stub, mode, link, port),
			Environment: map[string]string{"DB_URL": f.dbURL}})
	}
	inst := supervisordtest.Start(t, programs...)
	client, err := supervisor.New(inst.URL, inst.Username, inst.Password, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	fo := *f.acts
	fo.Supervisor, fo.PageURL = client, fmt.Sprintf("http://127.0.0.1:%d/", port)
	var ts testsuite.WorkflowTestSuite
	foEnv := ts.NewTestActivityEnvironment()
	foEnv.RegisterActivity(&fo)
	onFailover := func(act, in, out any) error {
		v, err := foEnv.ExecuteActivity(act, in)
		if err == nil && out != nil {
			require.NoError(t, v.Get(out))
		}
		return err
	}
	guard := EllaProgramStatesInput{RequireStopped: true}

	app := requireAppError(t, f.exec(t, f.acts.EllaProgramStates, guard, nil), ErrEllaStillRunning)
	assert.True(t, app.NonRetryable())
	assert.Contains(t, app.Error(), "ELLA still runs at supervisord "+f.acts.Supervisor.Endpoint()+": analysis-watcher RUNNING, api RUNNING, nginx RUNNING, polling RUNNING")
	var foStates EllaProgramsResult
	require.NoError(t, onFailover(fo.EllaProgramStates, guard, &foStates), "the failover host's ELLA is stopped")
	for _, p := range ella.Programs {
		assert.Equal(t, "STOPPED", foStates.States[p], p)
	}

	// One program left running on the primary is enough to refuse.
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: []string{"nginx", "api", "polling"}}, nil))
	app = requireAppError(t, f.exec(t, f.acts.EllaProgramStates, guard, nil), ErrEllaStillRunning)
	assert.Contains(t, app.Error(), ": analysis-watcher RUNNING")

	// The failover as EllaFailover runs it.
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: ella.Programs}, nil))
	var stopped EllaProgramsResult
	require.NoError(t, f.exec(t, f.acts.EllaProgramStates, guard, &stopped))
	require.NoError(t, onFailover(fo.StartElla, EllaProgramsInput{Programs: ella.Programs}, nil))
	require.NoError(t, onFailover(fo.EllaProgramStates, EllaProgramStatesInput{}, &foStates))
	assert.Equal(t, allRunning(), foStates.States)
	// Failing back is refused until the failover host's ELLA is stopped.
	requireAppError(t, onFailover(fo.EllaProgramStates, guard, nil), ErrEllaStillRunning)
}
