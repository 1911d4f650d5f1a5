//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/opsflow/opsflow/internal/crashhook"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// The crash matrix (issue 13, item 1): for every procedure, a run that the worker is killed
// in with SIGKILL at each activity boundary (before:), inside each long heartbeating
// activity (mid:) and after the body of each step with a side effect, before its result
// reached the server (after:); then the side effects are checked on the real servers:
// everything done exactly once. The kills use the worker built with -tags crashhook
// (internal/crashhook): one worker process per kill point, each armed at the next point of
// the run and required to die there (a point never reached fails the test, so a renamed
// activity cannot make a point vacuous); the last process is the normal worker, which runs
// the rest. One run per procedure takes all its kill points one after the other (a crash
// after a crash), which keeps the matrix to minutes; `-run 'TestCrashMatrix/<procedure>'`
// runs one procedure. With OPSFLOW_CRASH_REPORT set the matrix is written there as Markdown.

// crashProcedures is the matrix's rows, one per crash_<procedure>_e2e_test.go.
var crashProcedures = []struct {
	name string
	run  func(t *testing.T, m *crashMatrix)
}{
	{"ReleaseDeploy", crashReleaseDeploy},
	{"PackageImport", crashPackageImport},
}

// crashTimeout shortens the heartbeat (mid:, after:) or start-to-close (after: of an
// activity without heartbeat) timeout of the killed activity, in the crash worker only, so
// its retry comes after seconds instead of the production budget (minutes to hours). The
// recovery mechanism is the same; the figure in the report is this timeout plus the retry
// policy's first interval.
const crashTimeout = "10s"

// TestCrashMatrix runs every procedure's crash run in parallel, each on its own deployment.
func TestCrashMatrix(t *testing.T) {
	t.Parallel()
	m := &crashMatrix{bin: buildCrashWorker(t, t.TempDir())}
	t.Cleanup(func() { m.report(t) })
	for _, p := range crashProcedures {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.run(t, m)
		})
	}
}

// buildCrashWorker builds the worker with the kill hook (what `make build-crash` builds).
func buildCrashWorker(t *testing.T, dir string) string {
	out := filepath.Join(dir, "opsflow-worker-crash")
	cmd := exec.Command("go", "build", "-tags", "crashhook", "-o", out, "./worker")
	cmd.Dir = repoRoot(t)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build -tags crashhook ./worker: %s", b)
	return out
}

// crashMatrix collects the rows of the report.
type crashMatrix struct {
	bin  string
	mu   sync.Mutex
	runs []*crashRun
}

// crashRun is one procedure's run through its kill points.
type crashRun struct {
	t         *testing.T
	m         *crashMatrix
	d         *deployment
	procedure string
	kills     []crashKill
	// checks says what was checked after the run, for the report.
	checks []string
	// env is added to the crash workers' environment (not the last, normal worker's).
	env []string
}

type crashKill struct {
	point     crashhook.Point
	rec       crashhook.Record
	recovered time.Duration // 0: not measured (the run failed first)
}

// newRun starts one procedure's part of the matrix on deployment d.
func (m *crashMatrix) newRun(t *testing.T, d *deployment, procedure string) *crashRun {
	r := &crashRun{t: t, m: m, d: d, procedure: procedure}
	m.mu.Lock()
	m.runs = append(m.runs, r)
	m.mu.Unlock()
	require.NoError(t, os.MkdirAll(filepath.Join(d.dir, "crash"), 0o755))
	return r
}

// crashThrough runs the run started as workflow watchID through points, one crash worker
// each, then starts the normal worker for the rest of the run.
func (r *crashRun) crashThrough(watchID string, points ...string) {
	for i, p := range points {
		r.crashAt(i, p, watchID)
	}
	r.d.startWorkerNamed("worker-after-crashes")
}

// slowS3Downloads makes the crash workers reach S3 through a toxiproxy proxy that sends them
// at most kbPerSec KB/s, so a download lasts long enough to be killed in its middle.
func (r *crashRun) slowS3Downloads(kbPerSec int) {
	t := r.t
	api := os.Getenv("OPSFLOW_TOXIPROXY_URL")
	require.NotEmpty(t, api, `OPSFLOW_TOXIPROXY_URL is not set: scripts/stack up && eval "$(scripts/stack env)"`)
	up, err := url.Parse(s3test.Config().Endpoint)
	require.NoError(t, err)
	p, err := toxiproxy.NewClient(api).CreateProxy("opsflow-crash-"+r.d.taskQueue, "127.0.0.1:0", up.Host)
	require.NoError(t, err, "toxiproxy at %s", api)
	t.Cleanup(func() { _ = p.Delete() })
	_, err = p.AddToxic("thin-downlink", "bandwidth", "downstream", 1, toxiproxy.Attributes{"rate": kbPerSec})
	require.NoError(t, err)
	via := *up
	via.Host = p.Listen
	r.env = append(r.env, "OPSFLOW_S3_ENDPOINT="+via.String())
}

// crashAt starts a crash worker armed at point and waits until it killed itself there.
func (r *crashRun) crashAt(i int, point, watchID string) {
	t, d := r.t, r.d
	p, err := crashhook.ParsePoint(point)
	require.NoError(t, err)
	name := fmt.Sprintf("crash-%02d-%s-%s", i, p.When, p.Type)
	once := filepath.Join(d.dir, "crash", name+".once")
	logPath := filepath.Join(d.dir, "crash", name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	cmd := exec.Command(r.m.bin)
	cmd.Env = append(append(append([]string{}, d.env...), r.env...), crashhook.EnvAt+"="+point, crashhook.EnvOnceFile+"="+once,
		crashhook.EnvTimeout+"="+crashTimeout)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(format string, args ...any) {
		_ = cmd.Process.Kill()
		<-exited
		log, _ := os.ReadFile(logPath)
		t.Fatalf("%s: %s\n%s log:\n%s", point, fmt.Sprintf(format, args...), name, tail(string(log), 40))
	}
	deadline := time.After(3 * time.Minute)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var exitErr error
wait:
	for {
		select {
		case exitErr = <-exited:
			break wait
		case <-deadline:
			fail("the worker armed at this point was not killed within 3 minutes: is the point on the run's path (activity renamed)?")
		case <-tick.C:
			if desc, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), watchID, ""); err == nil &&
				desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				fail("workflow %s ended (%s) before the point was reached: the point is not on the run's path",
					watchID, desc.WorkflowExecutionInfo.Status)
			}
		}
	}
	var ee *exec.ExitError
	require.True(t, errors.As(exitErr, &ee), "%s: the crash worker exited without a signal: %v", point, exitErr)
	ws, _ := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("%s: the crash worker ended with %v, not SIGKILL\n%s", point, exitErr, tail(string(log), 40))
	}
	rec, err := crashhook.ReadRecord(once)
	require.NoError(t, err, "%s: killed, but not by the hook (no once file)", point)
	require.Equal(t, cmd.Process.Pid, rec.PID, "%s: the once file is this process's", point)
	require.Equal(t, p.String(), rec.Point)
	log, _ := os.ReadFile(logPath)
	require.Contains(t, string(log), "crashhook: SIGKILL at "+p.String())
	t.Logf("killed at %s (workflow %s, attempt %d)", p, rec.WorkflowID, rec.Attempt)
	r.kills = append(r.kills, crashKill{point: p, rec: rec})
}

// measure reads, from each killed run's history, how long it took to get past its point: a
// before: point until the step was scheduled, a mid:/after: point until the activity
// completed (or its body returned, when the next kill was after it). Call it once the run
// completed.
func (r *crashRun) measure() {
	histories := map[string][]*historypb.HistoryEvent{}
	for i := range r.kills {
		k := &r.kills[i]
		key := k.rec.WorkflowID + "/" + k.rec.RunID
		events, ok := histories[key]
		if !ok {
			events = r.history(k.rec.WorkflowID, k.rec.RunID)
			histories[key] = events
		}
		var done time.Time
		if k.point.When == crashhook.Before {
			done = firstScheduled(events, k.point.Type, k.rec.Time)
		} else {
			done = firstCompleted(events, k.point.Type, k.rec.Time, r.t.Logf)
			if i+1 < len(r.kills) {
				if next := r.kills[i+1]; next.point.When == crashhook.After && next.point.Type == k.point.Type &&
					next.rec.Time.After(k.rec.Time) && (done.IsZero() || next.rec.Time.Before(done)) {
					done = next.rec.Time
				}
			}
		}
		if assert.False(r.t, done.IsZero(), "%s: the history of %s shows no recovery after the kill", k.point, key) {
			k.recovered = done.Sub(k.rec.Time)
		}
	}
}

func (r *crashRun) history(id, runID string) []*historypb.HistoryEvent {
	it := r.d.client.GetWorkflowHistory(waitCtx(r.t, time.Minute), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(r.t, err, "history of %s", id)
		events = append(events, e)
	}
	return events
}

// firstScheduled is when the first activity or child workflow of typ was scheduled after t.
func firstScheduled(events []*historypb.HistoryEvent, typ string, after time.Time) time.Time {
	for _, e := range events {
		if !e.EventTime.AsTime().After(after) {
			continue
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.ActivityType.GetName() == typ {
			return e.EventTime.AsTime()
		}
		if c := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); c != nil && c.WorkflowType.GetName() == typ {
			return e.EventTime.AsTime()
		}
	}
	return time.Time{}
}

// firstCompleted is when the first activity of typ completed after t; it logs the attempt and
// why the attempt before failed (the kill's timeout).
func firstCompleted(events []*historypb.HistoryEvent, typ string, after time.Time, logf func(string, ...any)) time.Time {
	types := map[int64]string{}
	for _, e := range events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[e.EventId] = a.ActivityType.GetName()
		}
		if c := e.GetActivityTaskCompletedEventAttributes(); c != nil && types[c.ScheduledEventId] == typ && e.EventTime.AsTime().After(after) {
			for _, s := range events {
				if a := s.GetActivityTaskStartedEventAttributes(); a != nil && s.EventId == c.StartedEventId {
					logf("%s completed at attempt %d; the attempt before failed: %s", typ, a.Attempt, a.LastFailure.GetMessage())
				}
			}
			return e.EventTime.AsTime()
		}
	}
	return time.Time{}
}

// check notes one exactly-once check for the report (the assertions are the caller's).
func (r *crashRun) check(format string, args ...any) {
	r.checks = append(r.checks, fmt.Sprintf(format, args...))
}

// report logs the matrix and writes it to $OPSFLOW_CRASH_REPORT as Markdown.
func (m *crashMatrix) report(t *testing.T) {
	var b strings.Builder
	b.WriteString("| procedure | kill point | recovered in (s) | checks passed |\n|---|---|---|---|\n")
	var notes strings.Builder
	for _, r := range m.runs {
		status := "yes"
		if r.t.Failed() {
			status = "**NO**"
		}
		for _, k := range r.kills {
			rec := "—"
			if k.recovered > 0 {
				rec = fmt.Sprintf("%.1f", k.recovered.Seconds())
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", r.procedure, k.point, rec, status)
		}
		if len(r.kills) == 0 {
			fmt.Fprintf(&b, "| %s | (none reached) | — | **NO** |\n", r.procedure)
		}
		fmt.Fprintf(&notes, "- **%s** (%d kills in one run): %s.\n", r.procedure, len(r.kills), strings.Join(r.checks, "; "))
	}
	text := b.String() + "\nChecked after each procedure's run:\n\n" + notes.String()
	t.Logf("crash matrix:\n%s", text)
	if path := os.Getenv("OPSFLOW_CRASH_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644), "OPSFLOW_CRASH_REPORT")
	}
}
