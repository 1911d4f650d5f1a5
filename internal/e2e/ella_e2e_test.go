//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/workflows"
)

// ellaE2E is one test's world: a deployment with its central worker, the stand-in's binary,
// one ELLA host (database at v1, programs RUNNING v1, its host worker) and addresses unique to
// the test, so its e-mails are told apart in the shared MailDev.
type ellaE2E struct {
	d               *deployment
	stub            string
	h               *ellaHost
	nanos           int64
	users, testers  string
	window          string
	usersAndTesters []string
}

func newEllaE2E(t *testing.T) *ellaE2E {
	d := newDeployment(t)
	d.startWorker()
	e := &ellaE2E{d: d, stub: ellastub.Build(t), nanos: time.Now().UnixNano(), window: "tirsdag 1. desember 16–18"}
	e.h = newEllaHost(t, d, "p", e.stub, "", true)
	e.users = fmt.Sprintf("users-%d@ous.test", e.nanos)
	e.testers = fmt.Sprintf("testers-%d@ous.test", e.nanos)
	return e
}

// deployArgs are `opsflow ella deploy`'s arguments for image with its true checksum.
func (e *ellaE2E) deployArgs(version, image string, extra ...string) []string {
	args := []string{"ella", "deploy", "--version", version, "--image", image, "--sha256", e.h.host.Sums[image],
		"--window", e.window, "--users", e.users, "--testers", e.testers, "--host-queue", e.h.queue,
		"--acceptance-within", "10m", "--remind-every", "5m"}
	return append(args, extra...)
}

// startToGate starts a deploy of ReleaseV2 with the starter (--wait-gate) and waits until
// the acceptance gate is open: ELLA runs v2 and the testers were told to start.
func (e *ellaE2E) startToGate(t *testing.T, version string, extra ...string) (string, workflows.EllaDeployResult) {
	t.Helper()
	start := time.Now()
	out, err := e.d.starter(e.deployArgs(version, ellastub.ReleaseV2, append(extra, "--wait-gate")...)...)
	require.NoError(t, err, out)
	assert.Contains(t, out, "ok       start ELLA", "--wait-gate printed the steps up to the gate")
	assert.Contains(t, out, "acceptance gate: open until")
	t.Logf("opsflow ella deploy --wait-gate (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	id := workflowIDOf(t, out)
	assert.Equal(t, "ella-deploy-"+version, id)
	res := waitGate(t, e.d, id)
	for _, s := range res.Steps {
		assert.Contains(t, []string{ella.StepOK, ella.StepSkipped}, s.Status, "step %s: %s", s.Name, s.Detail)
	}
	return id, res
}

// assertRunsV2 checks ELLA runs v2 on the host: the symlink, the page, v2's column, every
// program RUNNING.
func assertRunsV2(t *testing.T, h *ellaHost) {
	t.Helper()
	assert.Equal(t, ella.LinkTarget(ellastub.ReleaseV2), h.link())
	assert.Contains(t, h.page(), "ELLA v2.0.0")
	assert.True(t, h.hasMigratedColumn(), "v2's migration added %s.%s", ellastub.MigratedTable, ellastub.MigratedColumn)
	assert.Equal(t, allRunningStates(), h.states())
}

// TestEllaDeployApprovedE2E deploys ELLA v2 over v1 on a stand-in host as an operator does
// (`opsflow ella deploy`), approves the acceptance test with the plain Temporal CLI, and
// checks the real effects: the symlink, the page, the migrated schema, the loaded user
// groups, supervisord, the broadcasts, the pg_dump backup, the e-mails in MailDev and the
// change record.
func TestEllaDeployApprovedE2E(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	version := fmt.Sprintf("v2.0.0+e2e%d", e.nanos)

	id, atGate := e.startToGate(t, version, "--user-groups", ellastub.UserGroupsFile,
		"--change", "ELLA v2.0.0: nye filterkrav (e2e)")
	t.Logf("at the gate after %s:%s", time.Since(began).Round(time.Millisecond), stepsText(atGate.Steps))
	assert.Equal(t, ella.LinkTarget(ellastub.ReleaseV1), atGate.PreviousImage)
	assert.True(t, atGate.Migrated)

	// Meanwhile ELLA runs v2 for the testers, under the acceptance test's banner.
	assertRunsV2(t, h)
	assert.Equal(t, []string{ella.AcceptanceTestMessage}, h.activeBroadcasts())
	assert.Equal(t, "HTS,Sanger", h.sql(`SELECT string_agg(name, ',' ORDER BY name) FROM usergroup;`, nil), "usergroups.json loaded")

	// Approved with the plain Temporal CLI, through the stack's codec server as README says:
	// without it the CLI takes the decision but exits 1, unable to show the encrypted answer.
	out := d.temporalCLIWithCodec("workflow", "update", "execute", "--workflow-id", id, "--name", ella.AcceptanceUpdate,
		"--input", `{"approved":true,"by":"Lege Testesen","comment":"Alle testtilfeller bestått"}`)
	t.Logf("temporal workflow update execute: %s", strings.TrimSpace(out))

	res, err := deployResult(t, d, id)
	require.NoError(t, err)
	t.Logf("outcome %s after %s:%s", res.Outcome, time.Since(began).Round(time.Millisecond), stepsText(res.Steps))
	assert.Equal(t, ella.OutcomeApproved, res.Outcome)
	require.NotNil(t, res.Gate.Decision)
	assert.Equal(t, "Lege Testesen", res.Gate.Decision.By)
	assert.True(t, res.Gate.Decision.Approved)
	for _, s := range res.Steps {
		assert.Contains(t, []string{ella.StepOK, ella.StepSkipped}, s.Status, "step %s: %s", s.Name, s.Detail)
	}

	assertRunsV2(t, h)
	assert.Empty(t, h.activeBroadcasts(), "the deploy's broadcasts are hidden once approved")
	assert.Equal(t, "2", h.sql(`SELECT count(*) FROM broadcast;`, nil), "the downtime and acceptance broadcasts, both inactive")

	// The backup taken after the stop, readable by pg_restore.
	backup := res.Backup
	if !filepath.IsAbs(backup) {
		backup = filepath.Join(h.host.Dir, backup)
	}
	assert.True(t, strings.HasPrefix(backup, filepath.Join(h.host.Dir, "backups")+string(filepath.Separator)), backup)
	require.FileExists(t, backup)
	list, err := exec.Command("pg_restore", "--list", backup).CombinedOutput()
	require.NoError(t, err, "pg_restore --list %s: %s", backup, list)
	assert.Contains(t, string(list), "TABLE DATA public broadcast")
	assert.Contains(t, string(list), "TABLE public alembic_version")

	// The e-mails, read back from MailDev.
	planned := waitMail(t, e.users, "ELLA oppgraderes til "+version+": nedetid "+e.window, 1)
	acceptance := waitMail(t, e.testers, "ELLA "+version+": akseptansetest kan starte", 1)
	back := waitMail(t, e.users, "ELLA "+version+" er tilbake", 1)
	require.Len(t, planned, 1)
	require.Len(t, acceptance, 1)
	require.Len(t, back, 1)
	assert.Equal(t, []string{e.users}, planned[0].recipients())
	assert.Contains(t, planned[0].Text, "ELLA oppgraderes til versjon "+version+" og vil være utilgjengelig "+e.window+".")
	assert.Equal(t, []string{e.testers}, acceptance[0].recipients())
	assert.Contains(t, acceptance[0].Text, "gi beskjed innen "+res.Gate.Deadline.UTC().Format(time.RFC3339))
	assert.Equal(t, []string{e.users}, back[0].recipients())
	assert.Contains(t, back[0].Text, "Alle testtilfeller bestått")
	assert.Len(t, maildevTo(t, e.users), 2, "users: the window and ELLA is back")
	assert.Len(t, maildevTo(t, e.testers), 1, "testers: start the acceptance test")
	assertNoSecret(t, h, e.users, e.testers)

	// The change record, as `opsflow ella status --record` writes it.
	record := filepath.Join(t.TempDir(), "endringskontroll.md")
	out, err = d.starter("ella", "status", "--workflow-id", id, "--record", record)
	require.NoError(t, err, out)
	t.Logf("opsflow ella status:\n%s", out)
	md, err := os.ReadFile(record)
	require.NoError(t, err)
	assert.Contains(t, string(md), version)
	assert.Contains(t, string(md), "approved")
	assert.Contains(t, string(md), "Lege Testesen")

	listed(t, d, fmt.Sprintf(`OpsflowProcedure = "EllaDeploy" AND OpsflowVersion = %q AND OpsflowOutcome = %q AND OpsflowEnvironment = %q`,
		version, workflows.OutcomeSucceeded, d.environment), 1)
	t.Logf("TestEllaDeployApprovedE2E took %s", time.Since(began).Round(time.Millisecond))
}

// TestEllaDeployRejectedE2E deploys v2 to the gate with a downtime broadcast full of shell
// metacharacters, writes in ELLA during the acceptance test, rejects with `opsflow ella
// decide --reject`, and checks the rollback: v1 again (symlink, page, schema), the data
// written after the backup gone (the documented loss of a restore), programs RUNNING, the
// rolled-back e-mail.
func TestEllaDeployRejectedE2E(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	version := fmt.Sprintf("v2.0.0+e2e%d", e.nanos)

	// ella.CheckBroadcast accepts shell metacharacters: the message is one argv element of
	// ella-cli run without a shell. It must be stored verbatim and run nothing; the markers
	// would exist if any shell had expanded it.
	markers := t.TempDir()
	m1, m2, m3 := filepath.Join(markers, "dollar"), filepath.Join(markers, "echo"), filepath.Join(markers, "backtick")
	message := fmt.Sprintf("ELLA nede $(rm -rf /); $(touch %s); echo pwned > %s; `touch %s` | & \"q\" 's'", m1, m2, m3)

	id, _ := e.startToGate(t, version, "--message", message, "--filter-configs", ellastub.FilterConfigsFile)
	assertRunsV2(t, h)
	assert.Equal(t, []string{ella.AcceptanceTestMessage}, h.activeBroadcasts())
	assert.Equal(t, "1", h.sql(`SELECT count(*) FROM broadcast WHERE message = :'m';`, map[string]string{"m": message}),
		"the downtime broadcast stored verbatim")
	for _, m := range []string{m1, m2, m3} {
		assert.NoFileExists(t, m, "no shell ran the broadcast message")
	}

	// A tester records an error in ELLA during the acceptance test, after the backup.
	marker := fmt.Sprintf("written during the acceptance test %d", e.nanos)
	h.sql(`INSERT INTO uiexception (message, location) VALUES (:'m', 'e2e');`, map[string]string{"m": marker})

	out, err := d.starter("ella", "decide", "--workflow-id", id, "--reject", "--by", "Lege Testesen", "--comment", "Filtrering feiler")
	require.NoError(t, err, out)
	t.Logf("opsflow ella decide --reject: %s", strings.TrimSpace(out))

	res, err := deployResult(t, d, id)
	require.NoError(t, err, "a rejection is an outcome, not a failure of the run")
	t.Logf("outcome %s after %s:%s", res.Outcome, time.Since(began).Round(time.Millisecond), stepsText(res.Steps))
	assert.Equal(t, ella.OutcomeRejected, res.Outcome)
	require.NotNil(t, res.Gate.Decision)
	assert.False(t, res.Gate.Decision.Approved)
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Name)
		if strings.HasPrefix(s.Name, "rollback: ") {
			assert.Equal(t, ella.StepOK, s.Status, "%s: %s", s.Name, s.Detail)
		}
	}
	assert.Contains(t, names, "rollback: restore database backup")

	// v1 again: the symlink, the page, the schema (v2's column gone with the restore).
	assert.Equal(t, ella.LinkTarget(ellastub.ReleaseV1), h.link())
	assert.Contains(t, h.page(), "ELLA v1.0.0")
	assert.False(t, h.hasMigratedColumn(), "the dump from before the migration is restored")
	assert.Equal(t, ellastub.ImageV1.Head, h.sql(`SELECT version_num FROM alembic_version;`, nil))
	assert.Equal(t, allRunningStates(), h.states())
	// The documented data loss: the restore brings the database back to the backup taken
	// right after the stop, so what was written in ELLA during the acceptance test is gone.
	assert.Equal(t, "0", h.sql(`SELECT count(*) FROM uiexception WHERE message = :'m';`, map[string]string{"m": marker}),
		"rows written after the backup are lost by the rollback (documented)")
	// The downtime broadcast came back with the dump and was hidden; the rollback's is shown.
	assert.Equal(t, []string{ella.RolledBackMessage}, h.activeBroadcasts())
	assert.Equal(t, "1", h.sql(`SELECT count(*) FROM broadcast WHERE message = :'m' AND NOT active;`, map[string]string{"m": message}))
	for _, m := range []string{m1, m2, m3} {
		assert.NoFileExists(t, m)
	}

	rolledBack := "ELLA: oppgraderingen til " + version + " er rullet tilbake"
	for _, to := range []string{e.users, e.testers} {
		got := waitMail(t, to, rolledBack, 1)
		require.Len(t, got, 1)
		assert.ElementsMatch(t, []string{e.users, e.testers}, got[0].recipients())
		assert.Contains(t, got[0].Text, "rejected in the acceptance test by Lege Testesen: Filtrering feiler")
		assert.Contains(t, got[0].Text, "Databasen er gjenopprettet fra sikkerhetskopien")
	}
	assert.Empty(t, waitMailSubject(t, e.users, "ELLA "+version+" er tilbake"), "no 'ELLA is back' after a rejection")
	assertNoSecret(t, h, e.users, e.testers)

	listed(t, d, fmt.Sprintf(`OpsflowProcedure = "EllaDeploy" AND OpsflowVersion = %q AND OpsflowOutcome = %q`,
		version, workflows.OutcomeRolledBack), 1)
	t.Logf("TestEllaDeployRejectedE2E took %s", time.Since(began).Round(time.Millisecond))
}

// waitMailSubject is every mail to addr with subject now.
func waitMailSubject(t *testing.T, addr, subject string) []maildevMessage {
	var out []maildevMessage
	for _, m := range maildevTo(t, addr) {
		if m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

// TestEllaDeployBadInputE2E: inputs a deploy must refuse, each with a clear error, none
// stopping or changing ELLA: a missing image, a checksum mismatch, a config file that is not
// allowed (refused by the pre-flight: a failed run, ErrEllaDeployRefused), and inputs the
// starter refuses before starting anything (a config path, a broadcast starting with "-" or
// holding a line break) or the workflow refuses when started around the starter (Temporal CLI).
// A broadcast with shell metacharacters is accepted and stored verbatim: see
// TestEllaDeployRejectedE2E.
func TestEllaDeployBadInputE2E(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	before := h.fingerprint()
	page := h.page()

	refused := []struct {
		name, image, sha256, cause, says string
		extra                            []string
	}{
		{name: "missing image", image: "ella-release-v9.9.9.sif", sha256: h.host.Sums[ellastub.ReleaseV2],
			cause: activities.ErrEllaImageMissing, says: "image ella-release-v9.9.9.sif is not under " + ella.ReleasesDir},
		{name: "checksum mismatch", image: ellastub.ReleaseV2, sha256: h.host.Sums[ellastub.ReleaseV1],
			cause: activities.ErrChecksumMismatch, says: "has sha256 " + h.host.Sums[ellastub.ReleaseV2] + ", not the expected " + h.host.Sums[ellastub.ReleaseV1]},
		{name: "unknown config file", image: ellastub.ReleaseV2, sha256: h.host.Sums[ellastub.ReleaseV2],
			extra: []string{"--user-groups", "prod-groups.json"},
			cause: activities.ErrEllaConfigRefused, says: `config file "prod-groups.json" is not one of the allowed config files`},
	}
	for i, c := range refused {
		version := fmt.Sprintf("v2.0.0+bad%d.%d", i, e.nanos)
		args := append([]string{"ella", "deploy", "--version", version, "--image", c.image, "--sha256", c.sha256,
			"--window", e.window, "--users", e.users, "--testers", e.testers, "--host-queue", h.queue, "--wait"}, c.extra...)
		out, err := d.starter(args...)
		require.Error(t, err, "%s: the starter exits non-zero when the run fails: %s", c.name, out)
		t.Logf("%s: opsflow ella deploy --wait:\n%s", c.name, out)
		assert.Contains(t, out, c.says, c.name)
		res, err := deployResult(t, d, "ella-deploy-"+version)
		app := requireAppError(t, err, workflows.ErrEllaDeployRefused)
		assert.Equal(t, c.cause, causeType(err), "%s: %v", c.name, err)
		assert.Contains(t, app.Error(), "ELLA was not stopped")
		assert.Contains(t, app.Error(), c.says)
		assert.Equal(t, ella.OutcomeRefused, res.Outcome, c.name)
		require.NotEmpty(t, res.Steps)
		assert.Equal(t, "pre-flight", res.Steps[len(res.Steps)-1].Name, c.name)
		assert.Equal(t, before, h.fingerprint(), "%s: nothing stopped, switched, migrated or broadcast", c.name)
	}

	// Refused by the starter before anything starts.
	for _, c := range []struct {
		name, says string
		args       []string
	}{
		{"config path", `config file "../config/usergroups.json": not a plain file name`, []string{"--user-groups", "../config/usergroups.json"}},
		{"option-like broadcast", `broadcast message starts with "-"`, []string{"--message", "-rf ELLA nede"}},
		{"broadcast with a line break", "broadcast message holds control character U+000A", []string{"--message", "ELLA nede\n$(reboot)"}},
		{"image path", `image "../../../etc/passwd.sif" under ` + ella.ReleasesDir + `: not a plain file name`, []string{"--image", "../../../etc/passwd.sif"}},
	} {
		version := fmt.Sprintf("v2.0.0+starter.%d", e.nanos)
		args := append(e.deployArgs(version, ellastub.ReleaseV2), c.args...)
		out, err := d.starter(args...)
		require.Error(t, err, "%s: %s", c.name, out)
		t.Logf("%s: %s", c.name, strings.TrimSpace(out))
		assert.Contains(t, out, "input refused, nothing started", c.name)
		assert.Contains(t, out, c.says, c.name)
		_, err = d.client.DescribeWorkflowExecution(context.Background(), "ella-deploy-"+version, "")
		assert.Error(t, err, "%s: no run was started", c.name)
	}

	// Started around the starter with the Temporal CLI, the workflow refuses the same input.
	id := fmt.Sprintf("ella-deploy-cli-bad-%d", e.nanos)
	d.temporalCLI("workflow", "start", "--type", "EllaDeploy", "--task-queue", d.taskQueue, "--workflow-id", id,
		"--input", fmt.Sprintf(`{"version":"v2.0.0","image":"../../etc/passwd","sha256":"%s","window":"nå","users":["%s"],"testers":["%s"],"taskQueue":"%s"}`,
			h.host.Sums[ellastub.ReleaseV2], e.users, e.testers, h.queue))
	res, err := deployResult(t, d, id)
	app := requireAppError(t, err, workflows.ErrEllaDeployRefused)
	t.Logf("Temporal CLI start with a path as the image: %s", app.Error())
	assert.Equal(t, workflows.ErrInvalidInput, causeType(err))
	assert.Contains(t, app.Error(), `image "../../etc/passwd"`)
	assert.Equal(t, ella.OutcomeRefused, res.Outcome)

	// Throughout: ELLA ran v1, untouched; nobody was e-mailed (the window mail follows the
	// pre-flight).
	assert.Equal(t, before, h.fingerprint())
	assert.Equal(t, allRunningStates(), h.states())
	assert.Equal(t, page, h.page())
	assert.Empty(t, maildevTo(t, e.users, e.testers), "no e-mail for a refused deploy")
	listed(t, d, fmt.Sprintf(`OpsflowProcedure = "EllaDeploy" AND OpsflowOutcome = %q AND OpsflowEnvironment = %q`,
		workflows.OutcomeFailed, d.environment), len(refused))
	t.Logf("TestEllaDeployBadInputE2E took %s", time.Since(began).Round(time.Millisecond))
}
