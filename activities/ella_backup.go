package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/opsflow/opsflow/internal/fsync"
)

var errNoPGDatabase = errors.New("no database is configured (EllaActivities.PG.Database)")

// ellaStampRE is a backup's stamp: a plain name (the workflow's UTC time, 20060102T150405Z).
var ellaStampRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$`)

// BackupEllaDatabase dumps the database (pg_dump -Fc) to backups/<stamp>.dump and checks it
// with pg_restore --list (ErrEllaBackupUnreadable), heartbeating while it runs. The dump is
// written beside its name and renamed once read back, so backups/<stamp>.dump is always a
// whole, readable dump; a retry finding it there returns it.
func (a *EllaActivities) BackupEllaDatabase(ctx context.Context, in EllaBackupInput) (EllaBackupResult, error) {
	if !ellaStampRE.MatchString(in.Stamp) {
		return EllaBackupResult{}, permanent(ErrInvalidInput, nil, "backup stamp %q is not a plain name like 20060102T150405Z", in.Stamp)
	}
	if a.PG.Database == "" {
		return EllaBackupResult{}, permanent(ErrInvalidInput, errNoPGDatabase, "%v", errNoPGDatabase)
	}
	dir := filepath.Join(a.Dir, ellaBackupsDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return EllaBackupResult{}, err
	}
	path := filepath.Join(dir, in.Stamp+ellaDumpSuffix)
	if fi, err := os.Stat(path); err == nil {
		entries, err := a.listDump(ctx, path)
		if err != nil {
			return EllaBackupResult{}, err
		}
		return EllaBackupResult{Path: path, Size: fi.Size(), Entries: entries}, nil
	}
	partial := path + ".partial"
	_ = os.Remove(partial)
	out, code, err := a.runPG(ctx, []string{"pg_dump", "--format=custom", "--file=" + partial, "--dbname=" + a.PG.Database})
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_dump of %s exited %d: %s", a.PG.Database, code, out)
	}
	if err != nil {
		_ = os.Remove(partial)
		return EllaBackupResult{}, err
	}
	entries, err := a.listDump(ctx, partial)
	if err != nil {
		_ = os.Remove(partial)
		return EllaBackupResult{}, err
	}
	if err := syncFile(partial); err != nil {
		return EllaBackupResult{}, err
	}
	if err := os.Rename(partial, path); err != nil {
		return EllaBackupResult{}, err
	}
	if err := fsync.Dir(dir); err != nil {
		return EllaBackupResult{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return EllaBackupResult{}, err
	}
	return EllaBackupResult{Path: path, Size: fi.Size(), Entries: entries}, nil
}

// listDump reads a dump's table of contents (pg_restore --list) and counts its entries.
func (a *EllaActivities) listDump(ctx context.Context, path string) (int, error) {
	out, code, err := runArgv(ctx, a.Dir, nil, []string{"pg_restore", "--list", path})
	if err != nil {
		return 0, err
	}
	entries := 0
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, ";") {
			entries++
		}
	}
	if code != 0 || entries == 0 {
		return 0, permanent(ErrEllaBackupUnreadable, nil, "pg_restore --list cannot read the dump %s (exit %d, %d entries): %s", path, code, entries, out)
	}
	return entries, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// RestoreEllaDatabase restores a dump written by BackupEllaDatabase (pg_restore --clean
// --if-exists in one transaction: the database is the dump's or unchanged). The dump must be
// under backups/ and readable (ErrEllaBackupUnreadable). Objects the dump does not hold
// (say, a table only the new version made) are left; what was written after the backup is lost.
func (a *EllaActivities) RestoreEllaDatabase(ctx context.Context, in EllaRestoreInput) (EllaCommandResult, error) {
	if a.PG.Database == "" {
		return EllaCommandResult{}, permanent(ErrInvalidInput, errNoPGDatabase, "%v", errNoPGDatabase)
	}
	dir := filepath.Join(a.Dir, ellaBackupsDir)
	rel, err := filepath.Rel(dir, filepath.Clean(in.Path))
	if err != nil || rel != filepath.Base(rel) || !strings.HasSuffix(rel, ellaDumpSuffix) {
		return EllaCommandResult{}, permanent(ErrInvalidInput, err, "%s is not a dump under %s", in.Path, dir)
	}
	if _, err := a.listDump(ctx, in.Path); err != nil {
		return EllaCommandResult{}, err
	}
	out, code, err := a.runPG(ctx, []string{"pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error",
		"--dbname=" + a.PG.Database, in.Path})
	if err == nil && code != 0 {
		err = fmt.Errorf("pg_restore --clean of %s into %s exited %d: %s", in.Path, a.PG.Database, code, out)
	}
	if err != nil {
		return EllaCommandResult{}, err
	}
	return EllaCommandResult{Output: out}, nil
}
