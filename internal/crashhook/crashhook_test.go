package crashhook

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func TestParsePoint(t *testing.T) {
	for in, want := range map[string]Point{
		"before:PublishPackage":   {Before, "PublishPackage", 1},
		"before:StartServices#2":  {Before, "StartServices", 2},
		"mid:FetchPackage":        {Mid, "FetchPackage", 2},
		"mid:FetchPackage#5":      {Mid, "FetchPackage", 5},
		" after:CreateReleaseTag": {After, "CreateReleaseTag", 1},
	} {
		got, err := ParsePoint(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		again, err := ParsePoint(got.String())
		require.NoError(t, err)
		assert.Equal(t, got, again, "String reads back")
	}
	for _, bad := range []string{"", "before", "before:", "during:X", "before:X#0", "before:X#-1", "mid:X#two", "after:#2", "before:a b"} {
		_, err := ParsePoint(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvAt, "")
	cfg, err := FromEnv()
	require.NoError(t, err)
	assert.Nil(t, cfg, "no point, no hook")

	t.Setenv(EnvAt, "before:X")
	t.Setenv(EnvOnceFile, "")
	_, err = FromEnv()
	assert.ErrorContains(t, err, EnvOnceFile, "a kill without its once file would repeat in every restarted worker")

	t.Setenv(EnvOnceFile, "/tmp/x")
	t.Setenv(EnvTimeout, "soon")
	_, err = FromEnv()
	assert.ErrorContains(t, err, EnvTimeout)

	t.Setenv(EnvTimeout, "7s")
	cfg, err = FromEnv()
	require.NoError(t, err)
	assert.Equal(t, &Config{Point: Point{Before, "X", 1}, OnceFile: "/tmp/x", Timeout: 7 * time.Second}, cfg)
}

// stepWorkflow runs Step three times in a row with heartbeat timeout hb (0: none); Step
// heartbeats three times and returns the heartbeat and start-to-close timeouts it was given.
func stepWorkflow(ctx workflow.Context, hb time.Duration) ([]timeouts, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: hb})
	var out []timeouts
	for i := 0; i < 3; i++ {
		var got timeouts
		if err := workflow.ExecuteActivity(ctx, "Step").Get(ctx, &got); err != nil {
			return nil, err
		}
		out = append(out, got)
	}
	return out, nil
}

type timeouts struct{ Heartbeat, StartToClose time.Duration }

func step(ctx context.Context) (timeouts, error) {
	for i := 0; i < 3; i++ {
		activity.RecordHeartbeat(ctx, i)
	}
	info := activity.GetInfo(ctx)
	return timeouts{Heartbeat: info.HeartbeatTimeout, StartToClose: info.Deadline.Sub(info.StartedTime).Round(time.Second)}, nil
}

// run runs stepWorkflow with the hook at point (kill replaced) and returns how often it
// "killed", the once file's record and the heartbeat timeouts Step saw.
func run(t *testing.T, point string, timeout, hb time.Duration, once string) (int32, Record, []timeouts) {
	t.Helper()
	var kills atomic.Int32
	old := kill
	kill = func() { kills.Add(1) }
	t.Cleanup(func() { kill = old })
	p, err := ParsePoint(point)
	require.NoError(t, err)
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{New(&Config{Point: p, OnceFile: once, Timeout: timeout})}})
	env.RegisterWorkflow(stepWorkflow)
	env.RegisterActivityWithOptions(step, activity.RegisterOptions{Name: "Step"})
	env.ExecuteWorkflow(stepWorkflow, hb)
	require.NoError(t, env.GetWorkflowError())
	var got []timeouts
	require.NoError(t, env.GetWorkflowResult(&got))
	var rec Record
	if kills.Load() > 0 {
		rec, err = ReadRecord(once)
		require.NoError(t, err)
	}
	return kills.Load(), rec, got
}

func TestHookKillsOnceAtItsPoint(t *testing.T) {
	minute, short := timeouts{time.Minute, time.Minute}, timeouts{3 * time.Second, time.Minute}
	for _, tc := range []struct {
		point       string
		timeout, hb time.Duration
		want        timeouts // what each Step was given
	}{
		{"before:Step#2", 0, time.Minute, minute},
		{"before:Step#2", 3 * time.Second, time.Minute, short}, // every heartbeat timeout shortened
		{"mid:Step", 0, time.Minute, minute},
		{"mid:Step#5", 3 * time.Second, time.Minute, short}, // the second execution's second beat
		{"mid:Step", 3 * time.Second, 0, short},             // the point's activity gets one
		{"after:Step#3", 0, time.Minute, minute},
		{"after:Step", 3 * time.Second, 0, timeouts{0, 3 * time.Second}}, // no heartbeat: start-to-close
	} {
		t.Run(fmt.Sprintf("%s,timeout=%s,hb=%s", tc.point, tc.timeout, tc.hb), func(t *testing.T) {
			once := filepath.Join(t.TempDir(), "once")
			kills, rec, got := run(t, tc.point, tc.timeout, tc.hb, once)
			assert.EqualValues(t, 1, kills)
			p, _ := ParsePoint(tc.point)
			assert.Equal(t, p.String(), rec.Point)
			assert.Equal(t, "Step", rec.Type)
			assert.Equal(t, os.Getpid(), rec.PID)
			assert.NotEmpty(t, rec.WorkflowID)
			if p.When != Before {
				assert.NotEmpty(t, rec.ActivityID)
			}
			assert.WithinDuration(t, time.Now(), rec.Time, time.Minute)
			assert.Equal(t, []timeouts{tc.want, tc.want, tc.want}, got)

			// The restarted worker has the same settings: the once file exists, no kill.
			kills, _, _ = run(t, tc.point, tc.timeout, tc.hb, once)
			assert.EqualValues(t, 0, kills, "a second process with the same once file runs through")
		})
	}
}

func TestHookNeverReachedDoesNotKill(t *testing.T) {
	once := filepath.Join(t.TempDir(), "once")
	for _, point := range []string{"before:Step#4", "before:Other", "mid:Step#10", "after:Other"} {
		kills, _, _ := run(t, point, 0, time.Minute, once)
		assert.EqualValues(t, 0, kills, point)
	}
	assert.NoFileExists(t, once, "the test harness tells an unreached point by the missing file")
}

func TestHookDoesNotKillWithoutItsOnceFile(t *testing.T) {
	once := filepath.Join(t.TempDir(), "missing-dir", "once")
	kills, _, _ := run(t, "before:Step", 0, time.Minute, once)
	assert.EqualValues(t, 0, kills, "a kill it cannot mark would repeat in every restarted worker")
}
