package ella

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func healthyMeasurements() HealthMeasurements {
	return HealthMeasurements{Page: Probe{URL: "http://ella/", Status: 200, Millis: 40}, API: &Probe{URL: "http://ella/api/v1/", Status: 200, Millis: 80},
		Requests: 100, Status5xx: 5, Load5: 1, CPUs: 4, Connections: 10,
		Programs: map[string]string{"nginx": "RUNNING", "api": "RUNNING", "polling": "RUNNING", "analysis-watcher": "RUNNING"}}
}

func TestEvaluateThresholds(t *testing.T) {
	assert.Empty(t, Evaluate(healthyMeasurements(), HealthThresholds{}), "5 of 100 is the limit, not over it")

	m := healthyMeasurements()
	m.Page.Millis, m.API.Status = 4000, 502
	m.Status5xx = 30
	m.NewUIExceptions, m.UIExceptionFrom, m.UIExceptionTo = 6, 10, 16
	m.Load5, m.Connections, m.LongQueries, m.LongestSeconds = 9, 81, 1, 400
	m.Programs["polling"] = "STOPPED"
	m.Errors = []string{"load: no /proc"}
	assert.Equal(t, []string{
		"page http://ella/ answered in 4000 ms (limit 3000 ms)",
		"API http://ella/api/v1/ answers HTTP 502",
		"30 of 100 requests answered 5xx (30.0%, limit 5.0%)",
		"6 new uiexception rows (ids 11..16; limit 5)",
		"host load 9.00 over 5 minutes on 4 CPUs (limit 2.00 per CPU)",
		"81 database connections (limit 80)",
		"1 queries running longer than 300 s, the longest 400 s (limit 0)",
		"supervisord program polling is STOPPED",
		"check failed: load: no /proc",
	}, Evaluate(m, HealthThresholds{}))

	few := healthyMeasurements()
	few.Requests, few.Status5xx = 3, 2
	assert.Empty(t, Evaluate(few, HealthThresholds{}), "under min5xxCount requests no rate is judged")
	assert.Len(t, Evaluate(few, HealthThresholds{Min5xxCount: 2}), 1)

	down := healthyMeasurements()
	down.Page = Probe{URL: "http://ella/", Error: "connection refused"}
	assert.Equal(t, []string{"page http://ella/ does not answer: connection refused"}, Evaluate(down, HealthThresholds{}))
}

func TestTransitionOnlyOnChange(t *testing.T) {
	assert.Equal(t, TransitionNone, Transition(HealthUnknown, HealthOK))
	assert.Equal(t, TransitionRaised, Transition(HealthUnknown, HealthAlert))
	assert.Equal(t, TransitionRaised, Transition(HealthOK, HealthAlert))
	assert.Equal(t, TransitionNone, Transition(HealthAlert, HealthAlert))
	assert.Equal(t, TransitionCleared, Transition(HealthAlert, HealthOK))
	assert.Equal(t, TransitionNone, Transition(HealthOK, HealthOK))
}

func TestHealthInputValidate(t *testing.T) {
	require.NoError(t, HealthInput{To: []string{"a@b.c"}}.Validate())
	require.NoError(t, HealthInput{To: []string{"a@b.c"}, TaskQueue: "ella-p22-ella-01"}.Validate())
	assert.ErrorContains(t, HealthInput{To: []string{"a@b.c"}, TaskQueue: "two words"}.Validate(), "taskQueue")
	err := HealthInput{Thresholds: HealthThresholds{PageMillis: -1, MaxLoadPerCPU: -2}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"no recipient", "pageMillis is negative", "maxLoadPerCpu is negative"} {
		assert.Contains(t, err.Error(), want)
	}
	th := HealthThresholds{PageMillis: 100}.WithDefaults()
	assert.Equal(t, 100, th.PageMillis)
	assert.Equal(t, DefaultHealthThresholds.APIMillis, th.APIMillis)
}

func TestEvidenceNamesTheAlertsAndMeasurements(t *testing.T) {
	m := healthyMeasurements()
	m.LogRotated = true
	r := HealthReport{Checked: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Status: HealthAlert, Alerts: []string{"x"}, Measurements: m}
	e := r.Evidence()
	for _, want := range []string{"2026-12-01T10:00:00Z: alert", "- x\n", "HTTP 200 på 40 ms", "5xx: 5 (loggen er rotert)", "polling: RUNNING"} {
		assert.Contains(t, e, want)
	}
}

func TestFailoverInput(t *testing.T) {
	require.NoError(t, FailoverInput{From: "ella-p22-ella-01", To: "ella-p22-ella-fo-01"}.Validate())
	assert.ErrorContains(t, FailoverInput{From: "a", To: "a"}.Validate(), "same task queue")
	assert.ErrorContains(t, FailoverInput{From: "a b", To: "c"}.Validate(), "from \"a b\"")
	assert.ErrorContains(t, FailoverInput{From: "a", To: "b", Message: "-rf"}.Validate(), "option")
	assert.Equal(t, FailoverMessage, FailoverInput{}.Broadcast())
	for s, stopped := range map[string]bool{"STOPPED": true, "EXITED": true, "FATAL": true, "MISSING": true,
		"RUNNING": false, "STARTING": false, "BACKOFF": false, "STOPPING": false, "UNKNOWN": false} {
		assert.Equal(t, stopped, Stopped(s), s)
	}
}
