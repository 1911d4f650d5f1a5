package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
)

// ellaHealthThresholds are the defaults but for the load: this test host runs other tests.
var ellaHealthThresholds = ella.HealthThresholds{MaxLoadPerCPU: 1000}

// appendAccessLog writes nginx combined-format lines, one per status.
func appendAccessLog(t *testing.T, path string, statuses ...int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	for i, s := range statuses {
		_, err := fmt.Fprintf(f, "10.0.0.%d - - [01/Dec/2026:10:00:%02d +0100] \"GET /api/v1/workflows/analyses/%d/ HTTP/1.1\" %d 512 \"-\" \"Mozilla/5.0 \\\"x\\\"\"\n",
			i%250, i%60, i, s)
		require.NoError(t, err)
	}
}

func statuses(n, status int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = status
	}
	return out
}

// The debug checklist on the real servers (the stand-in ELLA under supervisord, its database
// on PostgreSQL, MailDev): the first check is the baseline; a 5xx burst in the access log,
// new uiexception rows and a stopped program each show in the next check's evidence, only
// what is new since the last check is counted, and a rotated log is read from its start.
func TestCheckEllaHealthOnRealServers(t *testing.T) {
	f := newEllaFixture(t)
	logPath := filepath.Join(f.dir, "logs", "access.log")
	require.NoError(t, os.MkdirAll(filepath.Dir(logPath), 0o755))
	f.acts.AccessLog, f.acts.APIURL = logPath, f.pageURL+"api/v1/config/"
	appendAccessLog(t, logPath, statuses(20, 200)...)
	f.sql(t, `INSERT INTO uiexception (message) VALUES ('before the first check');`, nil)
	check := func() EllaHealthResult {
		t.Helper()
		var res EllaHealthResult
		require.NoError(t, f.exec(t, f.acts.CheckEllaHealth, EllaHealthInput{Thresholds: ellaHealthThresholds}, &res))
		return res
	}

	first := check()
	assert.Equal(t, ella.HealthUnknown, first.Previous)
	assert.True(t, first.Baseline)
	assert.Equal(t, ella.HealthOK, first.Report.Status, "%v", first.Report.Alerts)
	m := first.Report.Measurements
	assert.Equal(t, 200, m.Page.Status)
	require.NotNil(t, m.API)
	assert.Equal(t, 200, m.API.Status)
	assert.Zero(t, m.Requests, "the log's history before the first check is the baseline")
	assert.Zero(t, m.NewUIExceptions)
	assert.Positive(t, m.CPUs)
	assert.Positive(t, m.Connections, "psql's own connection at least")
	assert.Equal(t, allRunning(), m.Programs)
	assert.FileExists(t, filepath.Join(f.dir, "health", "last.json"))

	// A 5xx burst.
	appendAccessLog(t, logPath, append(statuses(30, 502), statuses(10, 200)...)...)
	burst := check()
	assert.Equal(t, ella.HealthOK, burst.Previous)
	assert.Equal(t, ella.HealthAlert, burst.Report.Status)
	assert.Equal(t, 40, burst.Report.Measurements.Requests)
	assert.Equal(t, 30, burst.Report.Measurements.Status5xx)
	assert.Equal(t, []string{"30 of 40 requests answered 5xx (75.0%, limit 5.0%)"}, burst.Report.Alerts)
	assert.Equal(t, ella.TransitionRaised, ella.Transition(burst.Previous, burst.Report.Status))
	f.mailEvidence(t, burst.Report, "30 of 40 requests answered 5xx")

	// New uiexception rows; the burst is not counted again.
	f.sql(t, `INSERT INTO uiexception (message, location) SELECT 'TypeError ' || g, '/workflows/analyses/1' FROM generate_series(1, 7) g;`, nil)
	ui := check()
	assert.Equal(t, ella.HealthAlert, ui.Previous)
	assert.Zero(t, ui.Report.Measurements.Requests)
	assert.Equal(t, 7, ui.Report.Measurements.NewUIExceptions)
	require.Len(t, ui.Report.Alerts, 1)
	assert.Contains(t, ui.Report.Alerts[0], "7 new uiexception rows")

	// A stopped program.
	require.NoError(t, f.acts.Supervisor.Stop(context.Background(), "polling"))
	stopped := check()
	assert.Zero(t, stopped.Report.Measurements.NewUIExceptions)
	assert.Equal(t, "STOPPED", stopped.Report.Measurements.Programs["polling"])
	assert.Equal(t, []string{"supervisord program polling is STOPPED"}, stopped.Report.Alerts)

	// Rotation: the new file is read from its start; an incomplete last line waits.
	require.NoError(t, os.Rename(logPath, logPath+".1"))
	appendAccessLog(t, logPath, 200, 200, 500)
	fh, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fh.WriteString(`10.0.0.1 - - [01/Dec/2026:10:01:00 +0100] "GET / HTTP/1.1" 50`)
	require.NoError(t, err)
	require.NoError(t, f.acts.Supervisor.Start(context.Background(), "polling"))
	cleared := check()
	assert.True(t, cleared.Report.Measurements.LogRotated)
	assert.Equal(t, 3, cleared.Report.Measurements.Requests)
	assert.Equal(t, 1, cleared.Report.Measurements.Status5xx, "under min5xxCount requests: no alert")
	assert.Equal(t, ella.HealthOK, cleared.Report.Status, "%v", cleared.Report.Alerts)
	assert.Equal(t, ella.TransitionCleared, ella.Transition(cleared.Previous, cleared.Report.Status))
	assert.Equal(t, []string{"supervisord program polling is STOPPED"}, cleared.PreviousAlerts)

	// The rest of the line arrives; truncation restarts at the beginning too.
	_, err = fh.WriteString("3 0 \"-\" \"-\"\n")
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	next := check()
	assert.Equal(t, 1, next.Report.Measurements.Requests)
	assert.Equal(t, 1, next.Report.Measurements.Status5xx)
	assert.False(t, next.Report.Measurements.LogRotated)
	require.NoError(t, os.Truncate(logPath, 0))
	appendAccessLog(t, logPath, 200)
	trunc := check()
	assert.True(t, trunc.Report.Measurements.LogRotated)
	assert.Equal(t, 1, trunc.Report.Measurements.Requests)

	// uiexception went back (a restored dump): counting starts again from its highest id.
	f.sql(t, `DELETE FROM uiexception WHERE message <> 'before the first check';`, nil)
	back := check()
	assert.True(t, back.Baseline)
	assert.Zero(t, back.Report.Measurements.NewUIExceptions)
	f.sql(t, `INSERT INTO uiexception (message) VALUES ('a'), ('b');`, nil)
	assert.Equal(t, 2, check().Report.Measurements.NewUIExceptions)

	// ELLA's page down: an alert, not a failure.
	require.NoError(t, f.acts.Supervisor.Stop(context.Background(), "nginx"))
	down := check()
	assert.Equal(t, ella.HealthAlert, down.Report.Status)
	assert.Zero(t, down.Report.Measurements.Page.Status)
	assert.Contains(t, strings.Join(down.Report.Alerts, "\n"), "does not answer")
}

// mailEvidence sends the alert e-mail as EllaHealth does and reads it back from MailDev.
func (f *ellaFixture) mailEvidence(t *testing.T, r ella.HealthReport, want string) {
	t.Helper()
	var res EllaMailResult
	require.NoError(t, f.exec(t, f.acts.SendEllaMail, EllaMailInput{Template: EllaMailHealthAlert, To: []string{"ella-drift@ous.test"},
		Detail: r.Evidence()}, &res))
	var got []maildevMail
	require.Eventually(t, func() bool { got = maildevByMessageID(t, res.MessageID); return len(got) == 1 }, 10*time.Second, 100*time.Millisecond)
	assert.Equal(t, "ELLA-varsel: helsesjekken har funnet feil", got[0].Subject)
	assert.Contains(t, got[0].Text, want)
	assert.NotContains(t, got[0].Text, f.dbURL)
}
