//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
	{"EllaDeploy", crashEllaDeploy},
	{"RevalidationSync", crashRevalidationSync},
	{"Bridge", crashBridge},
	{"Movers", crashMovers},
}

// crashExcluded are kill points left out of the matrix because they fail today: each shows
// a step that is not idempotent once its body finished (reported with the matrix; move the
// point back into its procedure's list once fixed).
var crashExcluded = []struct{ procedure, point, why string }{
	{"RevalidationSync", "after:IngestConnections", "the ingest acknowledged TCS's syncEnd; its retry waits for a " +
		"syncEnd that is gone and fails (SyncDataTimeout), the sync drops its build"},
	{"RevalidationSync", "after:IngestGMC", "the ingest deleted the GMC messages and the syncEnd from SQS; its retry " +
		"waits for them and fails (SyncDataTimeout), the sync drops its build"},
	{"Movers", "after:ExportLimsItem", "the item was marked exported (moved to done/); the retry's Describe reads " +
		"the queue file where it was and fails 5 times: the package's run fails though it was exported (any kill " +
		"in a lims-exporter scan hits it when another package's export had just finished)"},
}

// crashTimeout shortens the heartbeat (mid:, after:) or start-to-close (after: of an
// activity without heartbeat) timeout of the killed activity, in the crash worker only, so
// its retry comes after seconds instead of the production budget (minutes to hours). The
// recovery mechanism is the same; the figure in the report is this timeout plus the retry
// policy's first interval.
const crashTimeout = "15s"

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
	// armed counts the crash workers started, to name their files.
	armed int
}

type crashKill struct {
	spelled   string // the point as the procedure's list spells it
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

// crashThrough takes the run through points, one crash worker each (arm, then killed), and
// then starts the normal worker for the rest of the run. watchID names the run's workflow:
// when it ends before a point was reached, the test fails at once ("" for none).
func (r *crashRun) crashThrough(watchID string, points ...string) {
	r.killThrough(watchID, points...)
	r.d.startWorkerNamed("worker-after-crashes")
}

// killThrough is crashThrough without the normal worker at the end.
func (r *crashRun) killThrough(watchID string, points ...string) {
	for _, p := range points {
		r.arm(p).waitKilled(watchID)
	}
}

// crashWorker is a worker process built with the hook, armed at one point.
type crashWorker struct {
	r       *crashRun
	spelled string
	point   crashhook.Point
	name    string
	once    string
	logPath string
	logFile *os.File
	cmd     *exec.Cmd
	exited  chan error
	waited  bool // exited was received from: the process is gone
}

// arm starts a crash worker armed at point (the run's next kill point).
func (r *crashRun) arm(point string) *crashWorker {
	t, d := r.t, r.d
	p, err := crashhook.ParsePoint(point)
	require.NoError(t, err)
	w := &crashWorker{r: r, spelled: point, point: p, name: fmt.Sprintf("crash-%02d-%s-%s", r.armed, p.When, p.Type), exited: make(chan error, 1)}
	r.armed++
	w.once = filepath.Join(d.dir, "crash", w.name+".once")
	w.logPath = filepath.Join(d.dir, "crash", w.name+".log")
	w.logFile, err = os.Create(w.logPath)
	require.NoError(t, err)
	w.cmd = exec.Command(r.m.bin)
	w.cmd.Env = append(append(append([]string{}, d.env...), r.env...), crashhook.EnvAt+"="+p.String(),
		crashhook.EnvOnceFile+"="+w.once, crashhook.EnvTimeout+"="+crashTimeout)
	w.cmd.Stdout, w.cmd.Stderr = w.logFile, w.logFile
	require.NoError(t, w.cmd.Start())
	go func() { w.exited <- w.cmd.Wait() }()
	t.Cleanup(func() { // a worker whose point was never reached
		if !w.waited {
			_ = w.cmd.Process.Kill()
			<-w.exited
		}
		w.logFile.Close()
	})
	return w
}

// waitKilled waits until the worker killed itself at its point, and checks it was the hook:
// the process ended by SIGKILL, its once file holds its pid and point, its log says so.
func (w *crashWorker) waitKilled(watchID string) {
	t, d, point := w.r.t, w.r.d, w.point.String()
	fail := func(format string, args ...any) {
		_ = w.cmd.Process.Kill()
		<-w.exited
		w.waited = true
		log, _ := os.ReadFile(w.logPath)
		t.Fatalf("%s: %s\n%s log:\n%s", point, fmt.Sprintf(format, args...), w.name, tail(string(log), 40))
	}
	deadline := time.After(3 * time.Minute)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var exitErr error
wait:
	for {
		select {
		case exitErr = <-w.exited:
			w.waited = true
			break wait
		case <-deadline:
			fail("the worker armed at this point was not killed within 3 minutes: is the point on the run's path (activity renamed)?")
		case <-tick.C:
			if watchID == "" {
				continue
			}
			if desc, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), watchID, ""); err == nil &&
				desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				fail("workflow %s ended (%s) before the point was reached: the point is not on the run's path",
					watchID, desc.WorkflowExecutionInfo.Status)
			}
		}
	}
	log, _ := os.ReadFile(w.logPath)
	var ee *exec.ExitError
	require.True(t, errors.As(exitErr, &ee), "%s: the crash worker exited without a signal: %v\n%s", point, exitErr, tail(string(log), 40))
	ws, _ := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: the crash worker ended with %v, not SIGKILL\n%s", point, exitErr, tail(string(log), 40))
	}
	rec, err := crashhook.ReadRecord(w.once)
	require.NoError(t, err, "%s: killed, but not by the hook (no once file)", point)
	require.Equal(t, w.cmd.Process.Pid, rec.PID, "%s: the once file is this process's", point)
	require.Equal(t, point, rec.Point)
	require.Contains(t, string(log), "crashhook: SIGKILL at "+point)
	t.Logf("killed at %s (workflow %s, attempt %d)", point, rec.WorkflowID, rec.Attempt)
	w.r.kills = append(w.r.kills, crashKill{spelled: w.spelled, point: w.point, rec: rec})
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
			done = firstCompleted(events, k.rec, r.t.Logf)
			if i+1 < len(r.kills) {
				if next := r.kills[i+1]; next.point.When == crashhook.After && next.rec.ActivityID == k.rec.ActivityID && next.rec.RunID == k.rec.RunID &&
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

// firstCompleted is when the activity the kill interrupted (its id in the run) completed
// after t; it logs the attempt and why the attempt before failed (the kill's timeout).
func firstCompleted(events []*historypb.HistoryEvent, rec crashhook.Record, logf func(string, ...any)) time.Time {
	var scheduled int64
	for _, e := range events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.ActivityId == rec.ActivityID {
			scheduled = e.EventId
		}
		if c := e.GetActivityTaskCompletedEventAttributes(); c != nil && c.ScheduledEventId == scheduled && e.EventTime.AsTime().After(rec.Time) {
			for _, s := range events {
				if a := s.GetActivityTaskStartedEventAttributes(); a != nil && s.EventId == c.StartedEventId {
					logf("%s (activity %s) completed at attempt %d; the attempt before failed: %s", rec.Type, rec.ActivityID, a.Attempt, a.LastFailure.GetMessage())
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
	order := func(r *crashRun) int {
		for i, p := range crashProcedures {
			if strings.HasSuffix(r.t.Name(), "/"+p.name) {
				return i
			}
		}
		return len(crashProcedures)
	}
	sort.SliceStable(m.runs, func(i, j int) bool { return order(m.runs[i]) < order(m.runs[j]) })
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
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", r.procedure, k.spelled, rec, status)
		}
		if len(r.kills) == 0 {
			fmt.Fprintf(&b, "| %s | (none reached) | — | **NO** |\n", r.procedure)
		}
		fmt.Fprintf(&notes, "- **%s** (%d kills): %s.\n", r.procedure, len(r.kills), strings.Join(r.checks, "; "))
	}
	text := b.String() + "\nChecked after each procedure's run:\n\n" + notes.String() +
		"\nLeft out of the matrix, because they fail today (bugs, to be fixed):\n\n"
	for _, x := range crashExcluded {
		text += fmt.Sprintf("- %s `%s`: %s.\n", x.procedure, x.point, x.why)
	}
	t.Logf("crash matrix:\n%s", text)
	if path := os.Getenv("OPSFLOW_CRASH_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(text), 0o644), "OPSFLOW_CRASH_REPORT")
	}
}
