//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/privateserver"
	"github.com/opsflow/opsflow/workflows"
)

// pgAllowConnections sets ALLOW_CONNECTIONS on the test's own ELLA database (never the shared
// server): false makes PostgreSQL refuse every new connection to it, as during maintenance.
func pgAllowConnections(dbURL string, allow bool) error {
	name, err := ellaTestDatabase(dbURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", os.Getenv("OPSFLOW_PG_URL"),
		"-c", fmt.Sprintf("ALTER DATABASE %s WITH ALLOW_CONNECTIONS %t", name, allow)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ALTER DATABASE %s ALLOW_CONNECTIONS %t: %v: %s", name, allow, err, out)
	}
	return nil
}

// ellaTestDatabase is the name of a test's ELLA database (ellastub.NewDatabase), refusing any other.
func ellaTestDatabase(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !regexp.MustCompile(`^ella_test_[0-9a-f]+$`).MatchString(name) {
		return "", fmt.Errorf("refusing to alter %q: not a test's database", name)
	}
	return name, nil
}

// refuseWhenEllaStops makes the host's database refuse connections as soon as the deploy starts
// stopping ELLA (the first program leaves RUNNING): after the downtime broadcast (which needs the
// database), before the backup. The ALTER goes through a psql session opened beforehand, so it
// lands within milliseconds of the stop, not after a process start. The channel gets nil once
// the database refuses, or why it could not.
func refuseWhenEllaStops(t *testing.T, h *ellaHost) <-chan error {
	t.Helper()
	name, err := ellaTestDatabase(h.dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pgAllowConnections(h.dbURL, true) }) // the database is dropped at the end
	psql := exec.Command("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", os.Getenv("OPSFLOW_PG_URL"))
	stdin, err := psql.StdinPipe()
	require.NoError(t, err)
	stdout, err := psql.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	psql.Stderr = &stderr
	require.NoError(t, psql.Start())
	t.Cleanup(func() { _ = stdin.Close(); _ = psql.Wait() })
	lines := bufio.NewScanner(stdout)
	// One round trip first: the session is connected before the deploy starts.
	_, err = fmt.Fprintln(stdin, `\echo fm-ready`)
	require.NoError(t, err)
	require.True(t, lines.Scan() && lines.Text() == "fm-ready", "psql session: %s", stderr.String())

	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			infos, err := h.client.AllProcessInfo(context.Background())
			stopping := false
			for _, p := range infos {
				stopping = stopping || (err == nil && p.StateName != "RUNNING")
			}
			if stopping {
				if _, err := fmt.Fprintf(stdin, "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false;\n\\echo fm-refused\n", name); err != nil {
					done <- err
					return
				}
				if !lines.Scan() || lines.Text() != "fm-refused" {
					done <- fmt.Errorf("ALTER DATABASE %s ALLOW_CONNECTIONS false: %s", name, stderr.String())
					return
				}
				done <- nil
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- fmt.Errorf("ELLA was not stopped within 3 minutes")
	}()
	return done
}

// startEllaFaultDeploy starts a deploy of v2 without waiting and returns its workflow id.
func startEllaFaultDeploy(t *testing.T, e *ellaE2E, version string) string {
	t.Helper()
	out, err := e.d.starter(e.deployArgs(version, ellastub.ReleaseV2)...)
	require.NoError(t, err, out)
	return workflowIDOf(t, out)
}

// dumpsOn lists the backups directory of the host (whole dumps and partial ones).
func dumpsOn(t *testing.T, h *ellaHost) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join(h.host.Dir, "backups", "*"))
	require.NoError(t, err)
	return got
}

// TestFaultsEllaBackupWhilePostgresRefusesBriefly: PostgreSQL refuses connections to ELLA's
// database from the stop on; the backup's first attempt fails, and once PostgreSQL accepts again
// the retry takes the dump and the deploy goes on to the gate and is approved.
func TestFaultsEllaBackupWhilePostgresRefusesBriefly(t *testing.T) {
	t.Parallel()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	version := fmt.Sprintf("v2.0.0+pgbrief%d", e.nanos)
	refused := refuseWhenEllaStops(t, h)
	id := startEllaFaultDeploy(t, e, version)
	require.NoError(t, <-refused)
	failure := faultWaitFailedAttempt(t, d, id, "BackupEllaDatabase", 2*time.Minute)
	assert.Contains(t, failure, "not currently accepting connections", "the backup failed on the refusal")
	assert.Equal(t, ella.LinkTarget(ellastub.ReleaseV1), h.link(), "nothing switched while the backup cannot be taken")
	for _, f := range dumpsOn(t, h) {
		assert.NotContains(t, f, ".dump", "no dump, whole or partial, from the refused attempt")
	}
	require.NoError(t, pgAllowConnections(h.dbURL, true))

	atGate := waitGate(t, d, id)
	out, err := d.starter("ella", "decide", "--workflow-id", id, "--approve", "--by", "Lege Testesen")
	require.NoError(t, err, out)
	res, err := deployResult(t, d, id)
	require.NoError(t, err)
	assert.Equal(t, ella.OutcomeApproved, res.Outcome, stepsText(res.Steps))
	assertRunsV2(t, h)
	require.NotEmpty(t, atGate.Backup)
	backup := res.Backup
	if !filepath.IsAbs(backup) {
		backup = filepath.Join(h.host.Dir, backup)
	}
	list, err := exec.Command("pg_restore", "--list", backup).CombinedOutput()
	require.NoError(t, err, "pg_restore --list %s: %s", backup, list)
	assert.Equal(t, []string{backup}, dumpsOn(t, h), "one whole dump, no partial one")
	attempts, failures := faultAttempts(t, d, id, "BackupEllaDatabase")
	require.Len(t, attempts, 1)
	assert.GreaterOrEqual(t, attempts[0], int32(2), "the dump was taken by a retry")
	assert.Contains(t, failures[0], "not currently accepting connections")
	privateserver.Report(t, privateserver.Result{Fault: "PostgreSQL refuses connections to ELLA's database (ALLOW_CONNECTIONS false) from the stop until after the backup's first attempt",
		Procedure: "EllaDeploy",
		Expected:  "the backup is retried (10 s, 20 s) and succeeds once PostgreSQL accepts; the deploy goes on; no partial dump",
		Observed: fmt.Sprintf("attempt 1 failed (%s); dump taken by attempt %d, readable by pg_restore; gate opened, approved, ELLA runs v2",
			faultShort(failures[0]), attempts[0])})
}

// TestFaultsEllaBackupWhilePostgresRefusesThroughout: PostgreSQL refuses connections from the
// stop until the run ends. The backup fails after its three attempts and the deploy rolls back;
// nothing was switched or migrated, but ELLA cannot start without its database (its api checks
// the schema at start), so the run ends left down and tells users and testers loudly.
func TestFaultsEllaBackupWhilePostgresRefusesThroughout(t *testing.T) {
	t.Parallel()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	version := fmt.Sprintf("v2.0.0+pgdown%d", e.nanos)
	refused := refuseWhenEllaStops(t, h)
	id := startEllaFaultDeploy(t, e, version)
	require.NoError(t, <-refused)
	res, err := deployResult(t, d, id)
	t.Logf("outcome %s: %v%s", res.Outcome, err, stepsText(res.Steps))
	app := requireAppError(t, err, workflows.ErrEllaLeftDown)
	assert.Equal(t, ella.OutcomeLeftDown, res.Outcome)
	assert.Contains(t, app.Error(), "the database backup failed")
	assert.Contains(t, app.Error(), "the rollback failed at start ELLA")
	attempts, failures := faultAttempts(t, d, id, "BackupEllaDatabase")
	require.Len(t, attempts, 1)
	assert.Equal(t, int32(3), attempts[0], "the backup was tried three times")
	assert.Contains(t, failures[0], "not currently accepting connections")

	// Nothing of the new version: no switch, no dump, no migration.
	assert.Equal(t, ella.LinkTarget(ellastub.ReleaseV1), h.link())
	assert.Empty(t, res.Backup)
	assert.Empty(t, dumpsOn(t, h), "no dump, whole or partial")
	leftDown := fmt.Sprintf("ELLA er nede: oppgraderingen til %s feilet", version)
	for _, to := range []string{e.users, e.testers} {
		got := waitMail(t, to, leftDown, 1)
		require.Len(t, got, 1)
		assert.Contains(t, got[0].Text, "the database backup failed")
	}
	require.NoError(t, pgAllowConnections(h.dbURL, true))
	assert.Equal(t, ellastub.ImageV1.Head, h.sql(`SELECT version_num FROM alembic_version;`, nil), "not migrated")
	privateserver.Report(t, privateserver.Result{Fault: "PostgreSQL refuses connections to ELLA's database (ALLOW_CONNECTIONS false) from the stop to the end of the run",
		Procedure: "EllaDeploy",
		Expected:  "backup fails after 3 attempts; rollback; ELLA cannot start without its database: run fails EllaLeftDown, users and testers mailed 'ELLA er nede'; nothing switched, migrated or dumped",
		Observed: fmt.Sprintf("backup failed on attempt %d (%s); %s: %s; 'ELLA er nede' mailed to users and testers; link on v1, schema v1, no dump",
			attempts[0], faultShort(failures[0]), res.Outcome, faultShort(app.Error()))})
}

// TestFaultsEllaSupervisordDownAtStop: ELLA's supervisord is down when a deploy starts (its
// programs went with it). The pre-flight asks supervisord for every program, so the deploy is
// refused before anything happens: no e-mail, no broadcast, nothing stopped, switched, dumped or
// migrated. (supervisord dying between the pre-flight and the stop is the rollback path, covered
// by the workflow tests.)
func TestFaultsEllaSupervisordDownAtStop(t *testing.T) {
	t.Parallel()
	e := newEllaE2E(t)
	d, h := e.d, e.h
	version := fmt.Sprintf("v2.0.0+supdown%d", e.nanos)
	sup := privateserver.SupervisordOf(t, h.sup)
	sup.Stop()
	id := startEllaFaultDeploy(t, e, version)
	res, err := deployResult(t, d, id)
	t.Logf("outcome %s: %v%s", res.Outcome, err, stepsText(res.Steps))
	app := requireAppError(t, err, workflows.ErrEllaDeployRefused)
	assert.Equal(t, ella.OutcomeRefused, res.Outcome)
	assert.Contains(t, app.Error(), "so ELLA could not be stopped")
	assert.Equal(t, ella.LinkTarget(ellastub.ReleaseV1), h.link())
	assert.Empty(t, res.Backup)
	assert.Empty(t, dumpsOn(t, h))
	assert.Equal(t, ellastub.ImageV1.Head, h.sql(`SELECT version_num FROM alembic_version;`, nil))
	assert.Empty(t, h.activeBroadcasts(), "no downtime broadcast")
	assert.Empty(t, maildevTo(t, e.users, e.testers), "nobody was told of a downtime that could not happen")
	sup.Start()
	attempts, _ := faultAttempts(t, d, id, "CheckEllaRelease")
	privateserver.Report(t, privateserver.Result{Fault: "ELLA's supervisord down (stopped, its programs with it) when a deploy starts",
		Procedure: "EllaDeploy",
		Expected:  "the pre-flight asks supervisord, fails after its retries: EllaDeployRefused; no e-mail, no broadcast, nothing stopped, switched, dumped or migrated",
		Observed: fmt.Sprintf("CheckEllaRelease attempts %v; %s: %s; link on v1, schema v1, no dump, no broadcast, no e-mail",
			attempts, res.Outcome, faultShort(app.Error()))})
}
