//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/temporalx"
)

// The dependency fault matrix (issue 13, item 2): each faults_*_e2e_test.go breaks one server a
// procedure depends on, while the procedure runs on the real stack with the worker binary, and
// asserts what the procedure did about it: it completed once the fault cleared, or it failed
// with a clear error and its compensation done. Servers that are stopped and started are
// private instances (internal/testsupport/privateserver); network faults go through the
// stack's toxiproxy (faults.In, privateserver.Link). Every test adds its row to the matrix
// (privateserver.Report, $OPSFLOW_FAULT_REPORT).

// faultPending is the pending activity of type activity in the run: its attempt (the next one
// while it waits to retry) and its last failure; ok is false when none is pending.
func faultPending(t *testing.T, d *deployment, workflowID, activity string) (attempt int32, lastFailure string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := d.client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return 0, "", false
	}
	for _, p := range desc.PendingActivities {
		if p.GetActivityType().GetName() == activity {
			return p.GetAttempt(), faultFailureText(t, p.GetLastFailure()), true
		}
	}
	return 0, "", false
}

// faultWaitFailedAttempt waits until the pending activity has failed at least once (its attempt
// is past the first) and returns its last failure: the proof that the fault reached it.
func faultWaitFailedAttempt(t *testing.T, d *deployment, workflowID, activity string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		attempt, failure, ok := faultPending(t, d, workflowID, activity)
		if ok && attempt >= 2 && failure != "" {
			return failure
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s did not fail within %s while the fault lasted (pending %t, attempt %d)", activity, workflowID, within, ok, attempt)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultWaitPending waits until an activity of type activity is pending in the run.
func faultWaitPending(t *testing.T, d *deployment, workflowID, activity string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, _, ok := faultPending(t, d, workflowID, activity); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s was not pending within %s", activity, workflowID, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultAttempts reads a closed (or running) run's history: for each activity of type activity
// that started, the attempt it started as (Temporal records the last attempt only) and the
// failure the attempt before it ended with. Attempts above 1 are retries.
func faultAttempts(t *testing.T, d *deployment, workflowID, activity string) (attempts []int32, lastFailures []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scheduled := map[int64]bool{}
	it := d.client.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activity {
			scheduled[ev.GetEventId()] = true
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] {
			attempts = append(attempts, a.GetAttempt())
			lastFailures = append(lastFailures, faultFailureText(t, a.GetLastFailure()))
		}
	}
	return attempts, lastFailures
}

// faultFailureText is a failure's message as the workers wrote it: they encrypt failure
// messages (the payload codec), so it is decoded with the stack's keys like any opsflow client.
func faultFailureText(t *testing.T, f *failurepb.Failure) string {
	t.Helper()
	if f == nil {
		return ""
	}
	if f.GetServerFailureInfo() != nil && f.GetMessage() == "Failure exceeds size limit." {
		// The server keeps at most 4 KiB of a retrying activity's failure; beyond it the
		// encrypted message is cut and cannot be read (by the Web UI either).
		return "server: Failure exceeds size limit (the attempt's encrypted error was truncated, unreadable)"
	}
	cfg := config.DefaultClient()
	cfg.Codec.KeysFile = os.Getenv("OPSFLOW_CODEC_KEYS_FILE")
	opts, err := temporalx.ClientOptions(cfg, temporalx.NewLogger("warn"))
	if err != nil || opts.FailureConverter == nil {
		return f.GetMessage()
	}
	if err := opts.FailureConverter.FailureToError(f); err != nil {
		return err.Error()
	}
	return f.GetMessage()
}

// faultRunsOf lists the workflow ids of this deployment's runs of a procedure.
func faultRunsOf(t *testing.T, d *deployment, procedure string) []string {
	t.Helper()
	resp, err := d.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf(`OpsflowProcedure = %q AND OpsflowEnvironment = %q`, procedure, d.environment)})
	if err != nil {
		t.Fatalf("list %s runs: %v", procedure, err)
	}
	var ids []string
	for _, e := range resp.Executions {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

// faultShort is a failure message cut to its first line and 200 characters, for the report.
func faultShort(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
