//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/workflows"
)

// ellaHealthMemo is the memo EllaHealth writes (ella.HealthMemo), as the Web UI shows it.
type ellaHealthMemo struct {
	Status     string   `json:"status"`
	Alerts     []string `json:"alerts"`
	Transition string   `json:"transition"`
}

// TestEllaHealthAlertOnceAndClearedE2E runs EllaHealth with the plain Temporal CLI, one run per
// check as the Schedule does, against a stand-in host's nginx access log: ok at first; a 5xx
// burst raises one alert e-mail; a second alerting check sends none; only 200s clear it with
// one "cleared" e-mail. Each run's report is its result, its `health` query and its memo.
func TestEllaHealthAlertOnceAndClearedE2E(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	ops := fmt.Sprintf("ops-%d@ous.test", e.nanos)
	// The host's load is not what this test is about: other tests run beside it.
	input := fmt.Sprintf(`{"thresholds":{"maxLoadPerCpu":1000},"to":["%s"],"taskQueue":"%s"}`, ops, h.queue)
	check := func(n int) workflows.EllaHealthResult {
		t.Helper()
		id := fmt.Sprintf("ella-health-%d-%d", n, e.nanos)
		d.temporalCLI("workflow", "execute", "--type", "EllaHealth", "--task-queue", d.taskQueue, "--workflow-id", id, "--input", input)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var res workflows.EllaHealthResult
		require.NoError(t, d.client.GetWorkflow(ctx, id, "").Get(ctx, &res))
		var queried workflows.EllaHealthResult
		v, err := d.client.QueryWorkflow(ctx, id, "", ella.HealthQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&queried))
		assert.Equal(t, res.Report.Status, queried.Report.Status, "the health query answers the report")
		assert.Equal(t, res.Report.Alerts, queried.Report.Alerts)
		desc, err := d.client.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err)
		var memo ellaHealthMemo
		require.NoError(t, dataConverter(t, d).FromPayload(desc.WorkflowExecutionInfo.Memo.GetFields()[ella.HealthMemo], &memo))
		assert.Equal(t, res.Report.Status, memo.Status, "memo")
		assert.Equal(t, res.Transition, memo.Transition, "memo")
		m := res.Report.Measurements
		t.Logf("check %d: %s (transition %q, mailed %q) requests %d, 5xx %d, alerts %q", n, res.Report.Status, res.Transition,
			res.Mailed, m.Requests, m.Status5xx, res.Report.Alerts)
		return res
	}
	get := func(path string, n int) {
		for range n {
			_, status := ellaGet(strings.TrimSuffix(h.pageURL, "/") + path)
			require.NotZero(t, status)
		}
	}
	alertSubject := "ELLA-varsel: helsesjekken har funnet feil"
	clearedSubject := "ELLA-varsel opphevet: helsesjekken er i orden igjen"

	res := check(1)
	assert.Equal(t, ella.HealthOK, res.Report.Status, "baseline: %q", res.Report.Alerts)
	assert.Equal(t, ella.TransitionNone, res.Transition)
	assert.Empty(t, res.Mailed)
	assert.Equal(t, allRunningStates(), res.Report.Measurements.Programs)

	// A 5xx burst, as ELLA's nginx logs when its api upstream fails.
	get(ellastub.FailPath+"analyses", 30)
	get("/", 3)
	res = check(2)
	assert.Equal(t, ella.HealthAlert, res.Report.Status)
	assert.Equal(t, ella.TransitionRaised, res.Transition)
	assert.NotEmpty(t, res.Mailed)
	assert.Equal(t, 30, res.Report.Measurements.Status5xx)
	assert.GreaterOrEqual(t, res.Report.Measurements.Requests, 33)
	alert := waitMail(t, ops, alertSubject, 1)
	require.Len(t, alert, 1)
	assert.Equal(t, []string{ops}, alert[0].recipients())
	assert.Contains(t, alert[0].Text, fmt.Sprintf("30 of %d requests answered 5xx", res.Report.Measurements.Requests))
	listed(t, d, fmt.Sprintf(`WorkflowId = "ella-health-2-%d" AND OpsflowProcedure = "EllaHealth" AND OpsflowOutcome = %q`,
		e.nanos, ella.HealthAlert), 1)

	// Still failing: the state does not change, nobody is told again.
	get(ellastub.FailPath+"analyses", 20)
	res = check(3)
	assert.Equal(t, ella.HealthAlert, res.Report.Status)
	assert.Equal(t, ella.TransitionNone, res.Transition)
	assert.Empty(t, res.Mailed)
	time.Sleep(time.Second)
	assert.Len(t, waitMailSubject(t, ops, alertSubject), 1, "exactly one alert e-mail")

	// Only 200s: cleared, one e-mail naming what was alerted.
	get("/", 15)
	res = check(4)
	assert.Equal(t, ella.HealthOK, res.Report.Status, "%q", res.Report.Alerts)
	assert.Equal(t, ella.TransitionCleared, res.Transition)
	assert.NotEmpty(t, res.Mailed)
	cleared := waitMail(t, ops, clearedSubject, 1)
	require.Len(t, cleared, 1)
	assert.Contains(t, cleared[0].Text, "Varslet tidligere:")
	assert.Contains(t, cleared[0].Text, "requests answered 5xx")
	assert.Len(t, maildevTo(t, ops), 2, "one alert and one cleared e-mail in all")
	assertNoSecret(t, h, ops)
	t.Logf("TestEllaHealthAlertOnceAndClearedE2E took %s", time.Since(began).Round(time.Millisecond))
}

// TestEllaFailoverRefusedWhilePrimaryRunsE2E: two stand-in hosts (two supervisords, two host
// workers on their own task queues, one database). While a watchdog on the primary starts
// ELLA's nginx again as soon as it is stopped (a real way for the primary's stop not to
// hold), `opsflow ella failover` is refused by the guard (EllaProgramStates with
// RequireStopped: ErrEllaStillRunning) and nothing was started on the failover host. Without
// the watchdog, the failover moves ELLA, and failing back moves it again.
func TestEllaFailoverRefusedWhilePrimaryRunsE2E(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := newEllaE2E(t)
	d, p := e.d, e.h
	f := newEllaHost(t, d, "fo", e.stub, p.dbURL, false)
	require.Equal(t, allStates("STOPPED"), f.states())

	// The watchdog: whenever the primary's nginx is down, start it again.
	ctx, stopWatchdog := context.WithCancel(context.Background())
	var restarts atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			info, err := p.client.ProcessInfo(ctx, "nginx")
			if err == nil && ella.Stopped(info.StateName) {
				restarts.Add(1)
				_ = p.client.Start(ctx, "nginx") // waits until RUNNING (or the test stops it)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { stopWatchdog(); <-done })

	failover := func(n int, from, to, reason string, extra ...string) (string, string, error) {
		id := fmt.Sprintf("ella-failover-%d-%d", n, e.nanos)
		out, err := d.starter(append([]string{"ella", "failover", "--workflow-id", id, "--from", from, "--to", to, "--reason", reason, "--wait"}, extra...)...)
		return id, out, err
	}
	id, out, err := failover(1, p.queue, f.queue, "e2e: primary unwell")
	t.Logf("opsflow ella failover (watchdog on the primary):\n%s", out)
	require.Error(t, err, "refused: exits non-zero")
	assert.Equal(t, id, workflowIDOf(t, out))
	ctx2, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.EllaFailoverResult
	err = d.client.GetWorkflow(ctx2, id, "").Get(ctx2, &res)
	app := requireAppError(t, err, workflows.ErrEllaFailoverRefused)
	assert.Equal(t, activities.ErrEllaStillRunning, causeType(err))
	assert.Contains(t, app.Error(), "nothing started on "+f.queue)
	assert.Contains(t, app.Error(), "nginx")
	stopWatchdog()
	<-done
	assert.Positive(t, restarts.Load(), "the watchdog restarted nginx")
	for _, prog := range ella.Programs {
		info, err := f.client.ProcessInfo(context.Background(), prog)
		require.NoError(t, err)
		assert.Equal(t, "STOPPED", info.StateName, "%s on the failover host", prog)
		assert.Zero(t, info.Start, "%s was never started on the failover host", prog)
	}
	assert.Eventually(t, func() bool { return p.states()["nginx"] == "RUNNING" }, 10*time.Second, 100*time.Millisecond,
		"the primary's nginx still runs")
	_, status := f.tryPage()
	assert.Zero(t, status, "nothing serves on the failover host")

	// Without the watchdog: the failover moves ELLA.
	id, out, err = failover(2, p.queue, f.queue, "e2e: planned maintenance")
	require.NoError(t, err, out)
	t.Logf("opsflow ella failover:\n%s", out)
	assert.Equal(t, allStates("STOPPED"), p.states())
	f.waitRunning()
	assert.Equal(t, allRunningStates(), f.states())
	assert.Contains(t, f.page(), "ELLA v1.0.0")
	_, status = p.tryPage()
	assert.Zero(t, status, "the primary's page is down")
	assert.Equal(t, []string{ella.FailoverMessage}, p.activeBroadcasts(), "the broadcast, in the one database")
	require.NoError(t, d.client.GetWorkflow(ctx2, id, "").Get(ctx2, &res))
	assert.Equal(t, allRunningStates(), res.Started)
	assert.Equal(t, allStates("STOPPED"), res.Stopped)
	require.Positive(t, res.BroadcastID)

	// And back, hiding the first failover's broadcast.
	_, out, err = failover(3, f.queue, p.queue, "e2e: maintenance done", "--deactivate", fmt.Sprint(res.BroadcastID))
	require.NoError(t, err, out)
	t.Logf("opsflow ella failover back:\n%s", out)
	assert.Equal(t, allStates("STOPPED"), f.states())
	assert.Equal(t, allRunningStates(), p.states())
	assert.Contains(t, p.page(), "ELLA v1.0.0")
	assert.Equal(t, []string{ella.FailoverMessage}, p.activeBroadcasts(), "the first failover's broadcast hidden, the second's shown")
	assert.Equal(t, "0", p.sql(`SELECT count(*) FROM broadcast WHERE active AND id = :'id';`, map[string]string{"id": fmt.Sprint(res.BroadcastID)}))
	listed(t, d, fmt.Sprintf(`OpsflowProcedure = "EllaFailover" AND OpsflowOutcome = %q AND TaskQueue = %q`,
		workflows.OutcomeSucceeded, d.taskQueue), 2)
	t.Logf("TestEllaFailoverRefusedWhilePrimaryRunsE2E took %s", time.Since(began).Round(time.Millisecond))
}

// ellaSteps queries a running (or finished) deploy's steps and gate.
func ellaSteps(t *testing.T, d *deployment, id string) (workflows.EllaDeployResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var res workflows.EllaDeployResult
	v, err := d.client.QueryWorkflow(ctx, id, "", workflows.EllaStepsQuery)
	if err == nil {
		err = v.Get(&res)
	}
	return res, err
}

// waitGate waits until the deploy's acceptance gate is open (ELLA runs the new version for
// testers) and returns the steps so far; it fails at once when the run ended instead.
func waitGate(t *testing.T, d *deployment, id string) workflows.EllaDeployResult {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		res, err := ellaSteps(t, d, id)
		if err == nil && res.Gate.State == ella.GateOpen {
			return res
		}
		if err == nil && res.Outcome != "" {
			t.Fatalf("deploy %s ended (%s) before the acceptance gate opened: %s", id, res.Outcome, stepsText(res.Steps))
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy %s: the acceptance gate did not open within 3 minutes (last: %v, steps %s)", id, err, stepsText(res.Steps))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// deployResult waits for a deploy's result; a failed run's result is its failure's details.
func deployResult(t *testing.T, d *deployment, id string) (workflows.EllaDeployResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res workflows.EllaDeployResult
	err := d.client.GetWorkflow(ctx, id, "").Get(ctx, &res)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		require.NoError(t, app.Details(&res))
	}
	return res, err
}

func stepsText(steps []ella.Step) string {
	var b strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&b, "\n  %-45s %-8s %s", s.Name, s.Status, s.Detail)
	}
	return b.String()
}

// workflowIDOf finds "workflow id: X" in the starter's output.
func workflowIDOf(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`workflow id:\s*(\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "the starter names the run's workflow id: %s", out)
	return m[1]
}

// requireAppError unwraps a run's failure to its ApplicationError of type typ.
func requireAppError(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "an application error, got %v", err)
	require.Equal(t, typ, app.Type(), "%v", err)
	return app
}

// causeType is the type of the first ApplicationError under err's outermost one.
func causeType(err error) string {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return ""
	}
	var cause *temporal.ApplicationError
	if errors.As(errors.Unwrap(app), &cause) {
		return cause.Type()
	}
	return ""
}

// dataConverter decodes what the workers wrote (memos), through the stack's payload codec.
func dataConverter(t *testing.T, d *deployment) converter.DataConverter {
	t.Helper()
	cfg := config.DefaultClient()
	cfg.Temporal.Address, cfg.Temporal.Namespace = d.stack.address, d.stack.namespace
	cfg.Codec.KeysFile = os.Getenv("OPSFLOW_CODEC_KEYS_FILE")
	opts, err := temporalx.ClientOptions(cfg, temporalx.NewLogger("warn"))
	require.NoError(t, err)
	if opts.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return opts.DataConverter
}

// listed waits for visibility to return exactly the runs of query.
func listed(t *testing.T, d *deployment, query string, n int) []string {
	t.Helper()
	var ids []string
	require.Eventually(t, func() bool {
		resp, err := d.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return false
		}
		ids = nil
		for _, e := range resp.Executions {
			ids = append(ids, e.Execution.WorkflowId)
		}
		return len(ids) == n
	}, 20*time.Second, 250*time.Millisecond, "query %s finds %d run(s)", query, n)
	return ids
}
