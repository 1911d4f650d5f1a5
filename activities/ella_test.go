package activities

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
)

// A bad pre-flight (missing image, checksum mismatch, config not allowed or absent) is a
// clear, permanent error and changes nothing: ella.sif, the programs, the database.
func TestEllaPreflightRefusesAndChangesNothing(t *testing.T) {
	f := newEllaFixture(t)
	v1 := ella.LinkTarget(ellaV1)
	cases := []struct {
		name    string
		in      EllaCheckInput
		errType string
		msg     string
	}{
		{"missing image", EllaCheckInput{Image: "ella-release-v9.sif", SHA256: f.sums[ellaV2]}, ErrEllaImageMissing, "is not under archive/releases"},
		{"checksum mismatch", EllaCheckInput{Image: ellaV2, SHA256: f.sums[ellaV1]}, ErrChecksumMismatch, "not the expected " + f.sums[ellaV1]},
		{"unknown config", EllaCheckInput{Image: ellaV2, SHA256: f.sums[ellaV2],
			ConfigFiles: []ella.ConfigFile{{Kind: ella.ConfigUserGroups, Name: "other.json"}}}, ErrEllaConfigRefused, "not one of the allowed config files"},
		{"absent config", EllaCheckInput{Image: ellaV2, SHA256: f.sums[ellaV2],
			ConfigFiles: []ella.ConfigFile{{Kind: ella.ConfigFilterConfigs, Name: "absent.json"}}}, ErrEllaConfigRefused, "is not in the config directory"},
		{"path as image", EllaCheckInput{Image: "../ella-prod/ella.sif", SHA256: f.sums[ellaV2]}, ErrEllaImageMissing, "not a plain file name"},
	}
	for _, c := range cases {
		err := f.exec(t, f.acts.CheckEllaRelease, c.in, nil)
		app := requireAppError(t, err, c.errType)
		assert.Contains(t, app.Error(), c.msg, c.name)
	}
	assert.Equal(t, v1, f.link(t))
	assert.Equal(t, allRunning(), f.states(t))
	assert.Contains(t, f.page(t), "ELLA v1.0.0")
	assert.Equal(t, "0", f.sql(t, `SELECT count(*) FROM broadcast;`, nil))

	var res EllaCheckResult
	require.NoError(t, f.exec(t, f.acts.CheckEllaRelease, EllaCheckInput{Image: ellaV2, SHA256: f.sums[ellaV2],
		ConfigFiles: []ella.ConfigFile{{Kind: ella.ConfigUserGroups, Name: "usergroups.json"}}}, &res))
	assert.Equal(t, EllaCheckResult{CurrentTarget: v1, MigrationDue: true, ImageSize: int64(len(ellastub.ImageV2.Content()))}, res)
	require.NoError(t, f.exec(t, f.acts.CheckEllaRelease, EllaCheckInput{Image: ellaV1, SHA256: f.sums[ellaV1]}, &res))
	assert.False(t, res.MigrationDue, "the database is at v1's head")

	// A supervisord that does not answer: the deploy could not stop ELLA, so the pre-flight
	// fails (retryable: supervisord may be restarting) before anyone is told of a downtime.
	down, err := supervisor.New("http://127.0.0.1:"+strconv.Itoa(ellaFreePort(t))+"/RPC2", "u", "p", 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = down.Close() })
	saved := f.acts.Supervisor
	f.acts.Supervisor = down
	err = f.exec(t, f.acts.CheckEllaRelease, EllaCheckInput{Image: ellaV2, SHA256: f.sums[ellaV2]}, nil)
	f.acts.Supervisor = saved
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot report program nginx, so ELLA could not be stopped")
	assert.Equal(t, allRunning(), f.states(t))
}

// A broadcast is one argument: quotes, $(...), ; and | are stored as typed; a retry shows it
// once; deactivating hides it; an option-like or multi-line message is refused.
func TestEllaBroadcastStoredVerbatim(t *testing.T) {
	f := newEllaFixture(t)
	canary := filepath.Join(t.TempDir(), "pwned")
	msg := `ELLA er nede "i kveld" ; echo $HOME | tee x && $(touch ` + canary + `) ` + "`id`" + ` 'æøå' \n`
	var res EllaBroadcastResult
	require.NoError(t, f.exec(t, f.acts.EllaBroadcast, EllaBroadcastInput{Message: msg}, &res))
	require.NotZero(t, res.ID)
	assert.Equal(t, msg, f.sql(t, `SELECT message FROM broadcast WHERE id = :'id' AND active;`, map[string]string{"id": itoa(res.ID)}))
	assert.NoFileExists(t, canary)

	var again EllaBroadcastResult
	require.NoError(t, f.exec(t, f.acts.EllaBroadcast, EllaBroadcastInput{Message: msg}, &again))
	assert.Equal(t, res.ID, again.ID, "a retry reuses the active broadcast")
	assert.Equal(t, "1", f.sql(t, `SELECT count(*) FROM broadcast;`, nil))

	var next EllaBroadcastResult
	require.NoError(t, f.exec(t, f.acts.EllaBroadcast, EllaBroadcastInput{Message: ella.AcceptanceTestMessage, Deactivate: []int64{res.ID, 999}}, &next))
	assert.NotEqual(t, res.ID, next.ID)
	assert.Equal(t, ella.AcceptanceTestMessage+"\ttrue", f.sql(t, `SELECT string_agg(message || E'\t' || active, ',') FROM broadcast WHERE active;`, nil))

	for _, bad := range []string{"--help", "to\nlines", ""} {
		err := f.exec(t, f.acts.EllaBroadcast, EllaBroadcastInput{Message: bad + " "}, nil)
		if strings.TrimSpace(bad) == "" {
			err = f.exec(t, f.acts.EllaBroadcast, EllaBroadcastInput{Message: " "}, nil)
		}
		requireAppError(t, err, ErrEllaBroadcastRefused)
	}
	assert.Equal(t, "2", f.sql(t, `SELECT count(*) FROM broadcast;`, nil))
}

// The deploy's steps on real servers: v2 over v1 with its migration and configs, then the
// rollback: v1 runs again, the column is gone, and what was written after the backup is lost.
func TestEllaDeployStepsAndRollback(t *testing.T) {
	f := newEllaFixture(t)
	v1, v2 := ella.LinkTarget(ellaV1), ella.LinkTarget(ellaV2)
	var check EllaCheckResult
	require.NoError(t, f.exec(t, f.acts.CheckEllaRelease, EllaCheckInput{Image: ellaV2, SHA256: f.sums[ellaV2]}, &check))
	f.stubCLI(t, filepath.Join(f.dir, ella.ProductionLink), "broadcast", "new", "written before the backup")

	var stopped EllaProgramsResult
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: ella.Programs}, &stopped))
	for _, p := range ella.Programs {
		assert.Equal(t, "STOPPED", stopped.States[p], p)
	}
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: ella.Programs}, nil), "stopping a stopped ELLA is fine")

	var backup EllaBackupResult
	require.NoError(t, f.exec(t, f.acts.BackupEllaDatabase, EllaBackupInput{Stamp: "20261201T160000Z"}, &backup))
	assert.Equal(t, filepath.Join(f.dir, "backups", "20261201T160000Z.dump"), backup.Path)
	assert.Positive(t, backup.Size)
	out, code, err := runArgv(context.Background(), f.dir, nil, []string{"pg_restore", "--list", backup.Path})
	require.NoError(t, err)
	require.Zero(t, code, out)
	assert.Contains(t, out, "TABLE public broadcast")
	assert.Contains(t, out, "TABLE DATA public alembic_version")
	var again EllaBackupResult
	require.NoError(t, f.exec(t, f.acts.BackupEllaDatabase, EllaBackupInput{Stamp: "20261201T160000Z"}, &again))
	assert.Equal(t, backup, again, "a retry returns the dump already written")
	assert.NoFileExists(t, backup.Path+".partial")

	// The switch: atomic rename, a retry is fine, a link moved by someone else is refused.
	var sw EllaSwitchResult
	require.NoError(t, f.exec(t, f.acts.SwitchEllaImage, EllaSwitchInput{Target: v2, Expected: check.CurrentTarget}, &sw))
	assert.Equal(t, v2, f.link(t))
	require.NoError(t, f.exec(t, f.acts.SwitchEllaImage, EllaSwitchInput{Target: v2, Expected: check.CurrentTarget}, &sw))
	assert.Equal(t, v2, sw.Target)
	requireAppError(t, f.exec(t, f.acts.SwitchEllaImage, EllaSwitchInput{Target: ella.LinkTarget("ella-release-v3.sif"), Expected: v1}, nil), ErrEllaSymlinkMoved)
	requireAppError(t, f.exec(t, f.acts.SwitchEllaImage, EllaSwitchInput{Target: ella.LinkTarget("ella-release-v3.sif"), Expected: v2}, nil), ErrEllaImageMissing)
	assert.Equal(t, v2, f.link(t))
	entries, err := os.ReadDir(filepath.Join(f.dir, "ella-prod"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary link is left")

	// v2's API refuses to start before the migration, as ELLA's entrypoint does.
	requireAppError(t, f.exec(t, f.acts.StartElla, EllaProgramsInput{Programs: ella.Programs}, nil), ErrEllaNotRunning)
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: ella.Programs}, nil))

	require.False(t, f.hasMigratedColumn(t))
	var mig EllaCommandResult
	require.NoError(t, f.exec(t, f.acts.MigrateEllaDatabase, EllaMigrateInput{}, &mig))
	assert.Contains(t, mig.Output, "Database is at the migration head")
	assert.True(t, f.hasMigratedColumn(t), "v2's migration added %s.%s", ellastub.MigratedTable, ellastub.MigratedColumn)
	for _, c := range []ella.ConfigFile{{Kind: ella.ConfigUserGroups, Name: "usergroups.json"}, {Kind: ella.ConfigFilterConfigs, Name: "filterconfigs.json"}} {
		require.NoError(t, f.exec(t, f.acts.ApplyEllaConfig, EllaConfigInput{File: c}, nil), c.Name)
	}
	assert.Equal(t, "HTS,Sanger", f.sql(t, `SELECT string_agg(name, ',' ORDER BY name) FROM usergroup;`, nil))
	assert.Equal(t, "Standard", f.sql(t, `SELECT name FROM filterconfig;`, nil))
	requireAppError(t, f.exec(t, f.acts.ApplyEllaConfig, EllaConfigInput{File: ella.ConfigFile{Kind: ella.ConfigUserGroups, Name: "x.json"}}, nil), ErrEllaConfigRefused)

	var started EllaProgramsResult
	require.NoError(t, f.exec(t, f.acts.StartElla, EllaProgramsInput{Programs: ella.Programs}, &started))
	assert.Equal(t, allRunning(), started.States)
	assert.Contains(t, f.page(t), "ELLA v2.0.0")

	// Written under v2, after the backup: the documented loss of a rollback.
	f.stubCLI(t, filepath.Join(f.dir, ella.ProductionLink), "broadcast", "new", "written after the backup")

	// The rollback, as EllaDeploy runs it.
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: ella.Programs}, nil))
	require.NoError(t, f.exec(t, f.acts.SwitchEllaImage, EllaSwitchInput{Target: check.CurrentTarget, Expected: v2}, nil))
	assert.Equal(t, v1, f.link(t))
	var restored EllaCommandResult
	require.NoError(t, f.exec(t, f.acts.RestoreEllaDatabase, EllaRestoreInput{Path: backup.Path}, &restored))
	assert.False(t, f.hasMigratedColumn(t), "the restore removed v2's column")
	assert.Equal(t, "written before the backup", f.sql(t, `SELECT string_agg(message, ',') FROM broadcast;`, nil))
	assert.Equal(t, ellastub.ImageV1.Head, f.sql(t, `SELECT version_num FROM alembic_version;`, nil))
	require.NoError(t, f.exec(t, f.acts.StartElla, EllaProgramsInput{Programs: ella.Programs}, nil))
	assert.Contains(t, f.page(t), "ELLA v1.0.0")

	requireAppError(t, f.exec(t, f.acts.RestoreEllaDatabase, EllaRestoreInput{Path: "/etc/passwd"}, nil), ErrInvalidInput)
	bad := filepath.Join(f.dir, "backups", "broken.dump")
	require.NoError(t, os.WriteFile(bad, []byte("not a dump"), 0o600))
	requireAppError(t, f.exec(t, f.acts.RestoreEllaDatabase, EllaRestoreInput{Path: bad}, nil), ErrEllaBackupUnreadable)
	assert.Equal(t, "written before the backup", f.sql(t, `SELECT string_agg(message, ',') FROM broadcast;`, nil))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A migration that fails is ErrEllaCommandFailed with ella-cli's output, and leaves the
// database as it was (the upgrade is one transaction): the deploy then rolls back.
func TestEllaMigrationFailureLeavesTheDatabase(t *testing.T) {
	f := newEllaFixture(t)
	const v3 = "ella-release-v3.0.0.sif"
	require.NoError(t, ellastub.WriteImage(filepath.Join(f.dir, ella.ReleasesDir, v3), ellastub.ImageBroken))
	require.NoError(t, f.exec(t, f.acts.StopElla, EllaProgramsInput{Programs: ella.Programs}, nil))
	require.NoError(t, f.exec(t, f.acts.SwitchEllaImage, EllaSwitchInput{Target: ella.LinkTarget(v3), Expected: ella.LinkTarget(ellaV1)}, nil))
	app := requireAppError(t, f.exec(t, f.acts.MigrateEllaDatabase, EllaMigrateInput{}, nil), ErrEllaCommandFailed)
	assert.Contains(t, app.Error(), "division by zero")
	assert.False(t, f.hasMigratedColumn(t), "nothing of the failed upgrade stays")
	assert.Equal(t, ellastub.ImageV1.Head, f.sql(t, `SELECT version_num FROM alembic_version;`, nil))
}
