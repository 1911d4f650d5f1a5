package activities

import (
	"context"
	"errors"
)

// errEllaNotImplemented marks the ELLA activities of the deploy's first slice: their
// contract (types, names, errors) is fixed, their bodies come with the PostgreSQL,
// supervisord and SMTP slice.
var errEllaNotImplemented = errors.New("not implemented yet")

// EllaActivities run the ELLA deploy's steps on the ELLA host: ella-cli (a configured
// argument list, ella.CLI), the production symlink, pg_dump/pg_restore, supervisord and SMTP.
type EllaActivities struct{}

// CheckEllaRelease is the pre-flight: the image exists under archive/releases with the given
// checksum (ErrEllaImageMissing, ErrChecksumMismatch), each config file is allowed and present
// (ErrEllaConfigRefused), and `ella-cli database compare` under the new image tells whether a
// migration is due. Nothing is changed.
func (a *EllaActivities) CheckEllaRelease(ctx context.Context, in EllaCheckInput) (EllaCheckResult, error) {
	return EllaCheckResult{}, errEllaNotImplemented
}

// SendEllaMail sends one templated e-mail; a retry re-sends with the same Message-ID.
func (a *EllaActivities) SendEllaMail(ctx context.Context, in EllaMailInput) (EllaMailResult, error) {
	return EllaMailResult{}, errEllaNotImplemented
}

// EllaBroadcast hides the broadcasts in Deactivate and shows Message (`ella-cli broadcast
// new`, one argument), refusing a message ella.CheckBroadcast refuses (ErrEllaBroadcastRefused).
func (a *EllaActivities) EllaBroadcast(ctx context.Context, in EllaBroadcastInput) (EllaBroadcastResult, error) {
	return EllaBroadcastResult{}, errEllaNotImplemented
}

// StopElla stops ELLA's supervisord programs and waits until each is stopped.
func (a *EllaActivities) StopElla(ctx context.Context, in EllaProgramsInput) (EllaProgramsResult, error) {
	return EllaProgramsResult{}, errEllaNotImplemented
}

// BackupEllaDatabase dumps the database (pg_dump -Fc) to backups/<stamp>.dump and checks it
// with pg_restore --list (ErrEllaBackupUnreadable), heartbeating while it runs.
func (a *EllaActivities) BackupEllaDatabase(ctx context.Context, in EllaBackupInput) (EllaBackupResult, error) {
	return EllaBackupResult{}, errEllaNotImplemented
}

// SwitchEllaImage points ella-prod/ella.sif at the target atomically (ErrEllaSymlinkMoved
// when it points at neither the expected nor the target image).
func (a *EllaActivities) SwitchEllaImage(ctx context.Context, in EllaSwitchInput) (EllaSwitchResult, error) {
	return EllaSwitchResult{}, errEllaNotImplemented
}

// MigrateEllaDatabase runs `ella-cli database upgrade head` then `database compare`, which
// must pass (ErrEllaCommandFailed).
func (a *EllaActivities) MigrateEllaDatabase(ctx context.Context, in EllaMigrateInput) (EllaCommandResult, error) {
	return EllaCommandResult{}, errEllaNotImplemented
}

// ApplyEllaConfig loads one config file with ella-cli (users add_groups, filterconfigs update).
func (a *EllaActivities) ApplyEllaConfig(ctx context.Context, in EllaConfigInput) (EllaCommandResult, error) {
	return EllaCommandResult{}, errEllaNotImplemented
}

// StartElla starts ELLA's programs and checks each stays RUNNING and the web page answers
// (ErrEllaNotRunning).
func (a *EllaActivities) StartElla(ctx context.Context, in EllaProgramsInput) (EllaProgramsResult, error) {
	return EllaProgramsResult{}, errEllaNotImplemented
}

// RestoreEllaDatabase restores a dump written by BackupEllaDatabase (pg_restore --clean).
func (a *EllaActivities) RestoreEllaDatabase(ctx context.Context, in EllaRestoreInput) (EllaCommandResult, error) {
	return EllaCommandResult{}, errEllaNotImplemented
}
