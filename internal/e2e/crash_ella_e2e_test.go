//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// ellaKillPoints is an approved ELLA deploy killed at every step boundary, in the middle of
// the backup (between pg_dump and its check), and after the body of each step with a side
// effect that then runs again: the e-mail, the broadcast, the backup, the switch, the
// config load, the start. The migration is not killed in its middle nor after it: it is
// tried once by design (a killed migration rolls the deploy back). An after: point counts
// the executions in its own process: "after:EllaBroadcast" is the next broadcast. The
// points up to ellaGatePoints are reached before the acceptance gate, the others after the
// approval (which the process armed at the first of them takes).
var (
	ellaKillPoints = []string{
		"before:CheckEllaRelease",
		"before:SendEllaMail", "after:SendEllaMail", // users: the planned window
		"before:EllaBroadcast", "after:EllaBroadcast", // the downtime broadcast
		"before:StopElla",
		"before:BackupEllaDatabase", "mid:BackupEllaDatabase", "after:BackupEllaDatabase",
		"before:SwitchEllaImage", "after:SwitchEllaImage",
		"before:MigrateEllaDatabase",
		"before:ApplyEllaConfig", "after:ApplyEllaConfig",
		"before:StartElla", "after:StartElla",
		"before:EllaBroadcast#2", // the acceptance test broadcast
		"before:SendEllaMail#2",  // testers: start the acceptance test
		"before:SendEllaMail#3",  // after the approval: users, ELLA is back
		"before:EllaBroadcast#3", // the broadcasts hidden
	}
	ellaGatePoints = 18
)

// crashEllaDeploy deploys ELLA v2 over v1 on a stand-in host (its database, supervisord and
// page) through ellaKillPoints, approving at the gate, with one worker process doing the
// central and the ELLA host's work (so every kill is both). Then exactly once: ELLA runs
// v2, one backup, user groups loaded once, two broadcasts (downtime, acceptance), both
// hidden, one e-mail per notice (a notice sent again after a kill carries the same
// Message-ID, the SMTP server's copies are counted apart), the outcome approved.
func crashEllaDeploy(t *testing.T, m *crashMatrix) {
	d := newDeployment(t)
	r := m.newRun(t, d, "EllaDeploy")
	e := &ellaE2E{d: d, stub: ellastub.Build(t), nanos: time.Now().UnixNano(), window: "tirsdag 1. desember 16–18"}
	e.h = crashEllaHost(t, d, e.stub)
	e.users = fmt.Sprintf("users-crash-%d@ous.test", e.nanos)
	e.testers = fmt.Sprintf("testers-crash-%d@ous.test", e.nanos)
	version := fmt.Sprintf("v2.0.0+crash%d", e.nanos)
	out, err := d.starter(e.deployArgs(version, ellastub.ReleaseV2, "--user-groups", ellastub.UserGroupsFile)...)
	require.NoError(t, err, out)
	id := workflowIDOf(t, out)

	r.killThrough(id, ellaKillPoints[:ellaGatePoints]...)
	w := r.arm(ellaKillPoints[ellaGatePoints])
	waitGate(t, d, id)
	decide := d.starterAsync("ella", "decide", "--workflow-id", id, "--approve", "--by", "Lege Testesen", "--comment", "crash matrix")
	w.waitKilled(id)
	r.crashThrough(id, ellaKillPoints[ellaGatePoints+1:]...)
	out, err = decide()
	require.NoError(t, err, "the approval survives the kill of the worker that took it: %s", out)

	res, err := deployResult(t, d, id)
	require.NoError(t, err, "the deploy completes after its crashes")
	r.measure()
	assert.Equal(t, ella.OutcomeApproved, res.Outcome)
	for _, s := range res.Steps {
		assert.Contains(t, []string{ella.StepOK, ella.StepSkipped}, s.Status, "step %s: %s", s.Name, s.Detail)
	}
	r.check("run completed, approved, every step ok")

	h := e.h
	assertRunsV2(t, h)
	assert.Equal(t, allRunningStates(), h.states())
	r.check("ELLA runs v2 (link, page, migrated schema, programs RUNNING)")
	dumps, _ := filepath.Glob(filepath.Join(h.host.Dir, "backups", "*"))
	assert.Len(t, dumps, 1, "one backup, no partial dump: %v", dumps)
	assert.Equal(t, res.Backup, dumps[0])
	r.check("one backup")
	assert.Equal(t, "HTS,Sanger", h.sql(`SELECT string_agg(name, ',' ORDER BY name) FROM usergroup;`, nil), "user groups loaded once")
	assert.Equal(t, "2", h.sql(`SELECT count(*) FROM broadcast;`, nil), "the downtime and acceptance broadcasts, once each")
	assert.Empty(t, h.activeBroadcasts(), "both hidden once approved")
	r.check("user groups loaded once; two broadcasts, both hidden")

	notices := []struct{ to, subject string }{
		{e.users, "ELLA oppgraderes til " + version + ": nedetid " + e.window},
		{e.testers, "ELLA " + version + ": akseptansetest kan starte"},
		{e.users, "ELLA " + version + " er tilbake"},
	}
	copies := 0
	for _, n := range notices {
		mails := waitMailSubject(t, n.to, n.subject)
		ids := map[string]bool{}
		for _, m := range mails {
			assert.Equal(t, []string{n.to}, m.recipients(), n.subject)
			ids[fmt.Sprint(m.Headers["message-id"])] = true
		}
		assert.Len(t, ids, 1, "%q: one notice (one Message-ID) in %d e-mail(s)", n.subject, len(mails))
		copies += len(mails)
	}
	assert.Len(t, maildevTo(t, e.users, e.testers), copies, "no other e-mail to users or testers")
	r.check("one e-mail per notice: 3 notices, one Message-ID each (the SMTP server received %d copies: "+
		"a notice sent again after a kill keeps its Message-ID)", copies)
}

// crashEllaHost is newEllaHost's host (layout, database at v1, supervisord running v1)
// without its worker: the crash workers and the last worker are the ELLA host too (the
// deployment's environment gets the host's settings).
func crashEllaHost(t *testing.T, d *deployment, stub string) *ellaHost {
	host, err := ellastub.WriteHost(filepath.Join(d.dir, "ella-p"))
	require.NoError(t, err)
	h := &ellaHost{t: t, name: "p", host: host, stub: stub, queue: "ella-p-" + d.taskQueue}
	h.dbURL, _ = ellastub.NewDatabase(t)
	h.cli(host.Link(), "database", "upgrade", "head")
	listen := freeAddr(t)
	h.pageURL = "http://" + listen + "/"
	h.sup = supervisordtest.Start(t, host.Programs(stub, h.dbURL, listen, host.AccessLog(), true)...)
	h.client, err = supervisor.New(h.sup.URL, h.sup.Username, h.sup.Password, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.client.Close() })
	h.waitRunning()
	cliJSON, err := json.Marshal([]string{stub, "cli", "--image", ella.ImageArg})
	require.NoError(t, err)
	d.env = append(d.env,
		"OPSFLOW_ELLA_DIR="+host.Dir,
		"OPSFLOW_ELLA_TASK_QUEUE="+h.queue,
		"OPSFLOW_ELLA_CLI="+string(cliJSON),
		"OPSFLOW_ELLA_DB_URL="+h.dbURL,
		"OPSFLOW_ELLA_CONFIGS="+strings.Join([]string{ellastub.UserGroupsFile, ellastub.FilterConfigsFile}, ","),
		"OPSFLOW_ELLA_SUPERVISOR_URL="+h.sup.URL,
		"OPSFLOW_ELLA_SUPERVISOR_USER="+h.sup.Username,
		"OPSFLOW_ELLA_SUPERVISOR_PASSWORD="+h.sup.Password,
		"OPSFLOW_ELLA_PAGE_URL="+h.pageURL,
		"OPSFLOW_ELLA_ACCESS_LOG="+host.AccessLog(),
		"OPSFLOW_ELLA_STABLE_FOR=1s",
		"OPSFLOW_SMTP_ADDR="+ellaStackEnv(t, "OPSFLOW_SMTP_ADDR"),
		"OPSFLOW_MAIL_FROM="+ellaMailFrom,
	)
	return h
}
