package activities

import "github.com/opsflow/opsflow/internal/ella"

// Error types of the ELLA deploy's activities (EllaActivities), all non-retryable. They are
// declared here, beside the activities that raise them, and are part of EllaDeploy's contract.
const (
	// ErrEllaImageMissing: the image is not under archive/releases.
	ErrEllaImageMissing = "EllaImageMissing"
	// ErrEllaConfigRefused: a config file is not on the configured allowed list, or missing.
	ErrEllaConfigRefused = "EllaConfigRefused"
	// ErrEllaBroadcastRefused: a broadcast message fails ella.CheckBroadcast.
	ErrEllaBroadcastRefused = "EllaBroadcastRefused"
	// ErrEllaCommandFailed: ella-cli exited non-zero (its output is in the error's message).
	ErrEllaCommandFailed = "EllaCommandFailed"
	// ErrEllaSymlinkMoved: ella-prod/ella.sif points neither where it did nor where it should.
	ErrEllaSymlinkMoved = "EllaSymlinkMoved"
	// ErrEllaBackupUnreadable: pg_restore --list does not read the dump just written.
	ErrEllaBackupUnreadable = "EllaBackupUnreadable"
	// ErrEllaNotRunning: a program did not reach RUNNING or the web page did not answer.
	ErrEllaNotRunning = "EllaNotRunning"
	// ErrEllaMailRefused: the SMTP server refused a recipient or the message (a 5xx reply).
	ErrEllaMailRefused = "EllaMailRefused"
)

// EllaCheckInput is the pre-flight of a deploy: the image and its checksum (ChecksumMismatch
// when it differs), the config files to be loaded (each on the allowed list and present).
type EllaCheckInput struct {
	Image       string            `json:"image"`
	SHA256      string            `json:"sha256"`
	ConfigFiles []ella.ConfigFile `json:"configFiles,omitempty"`
}

// EllaCheckResult is what the pre-flight found: where the production symlink points now (the
// rollback target) and whether the database needs `database upgrade head` under the new
// image (`ella-cli database compare` run with the new image exits 1).
type EllaCheckResult struct {
	CurrentTarget string `json:"currentTarget"`
	MigrationDue  bool   `json:"migrationDue"`
	ImageSize     int64  `json:"imageSize"`
}

// Mail templates of an ELLA deploy; the subjects and texts are configuration (the worker's
// SMTP templates), the data comes from EllaMailInput.
const (
	EllaMailPlanned    = "planned"     // users: the window
	EllaMailAcceptance = "acceptance"  // testers: start the acceptance test, by the deadline
	EllaMailReminder   = "reminder"    // testers: no decision yet, the deadline
	EllaMailBack       = "back"        // users: ELLA is back with the new version
	EllaMailRolledBack = "rolled-back" // users and testers: the previous version runs again, why
	EllaMailLeftDown   = "left-down"   // users and testers: ELLA is down, a core developer is on it
)

// EllaMailInput is one e-mail of a deploy: a template, its recipients and its data.
type EllaMailInput struct {
	Template string   `json:"template"`
	To       []string `json:"to"`
	Version  string   `json:"version"`
	Window   string   `json:"window,omitempty"`
	Deadline string   `json:"deadline,omitempty"` // RFC 3339
	Detail   string   `json:"detail,omitempty"`   // what happened (rollbacks), the decision's comment
}

// EllaMailResult identifies the sent message (its Message-ID), so a retry is not sent twice.
type EllaMailResult struct {
	MessageID string `json:"messageId"`
}

// EllaBroadcastInput is a broadcast to show (Message) and ones to hide (Deactivate, by id;
// an id that is gone or already inactive is fine).
type EllaBroadcastInput struct {
	Message    string  `json:"message,omitempty"`
	Deactivate []int64 `json:"deactivate,omitempty"`
}

// EllaBroadcastResult is the id of the new broadcast (0 when none was asked for).
type EllaBroadcastResult struct {
	ID int64 `json:"id"`
}

// EllaProgramsInput names the supervisord programs to stop or start (ella.Programs).
type EllaProgramsInput struct {
	Programs []string `json:"programs"`
}

// EllaProgramsResult is each program's supervisord state after the step.
type EllaProgramsResult struct {
	States map[string]string `json:"states"`
}

// EllaBackupInput names the dump: backups/<Stamp>.dump (a workflow-time stamp, so a retry
// writes the same file).
type EllaBackupInput struct {
	Stamp string `json:"stamp"`
}

// EllaBackupResult is the dump written and checked with pg_restore --list.
type EllaBackupResult struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Entries int    `json:"entries"`
}

// EllaSwitchInput points ella-prod/ella.sif at Target (a new symlink renamed over the old)
// when it points at Expected; pointing at Target already is success (a retry).
type EllaSwitchInput struct {
	Target   string `json:"target"`
	Expected string `json:"expected"`
}

// EllaSwitchResult is where the symlink points after the step.
type EllaSwitchResult struct {
	Target string `json:"target"`
}

// EllaMigrateInput has nothing to choose: the database is upgraded to the linked image's head.
type EllaMigrateInput struct{}

// EllaConfigInput loads one config file (ella-cli users add_groups / filterconfigs update).
type EllaConfigInput struct {
	File ella.ConfigFile `json:"file"`
}

// EllaCommandResult is an ella-cli run's (trimmed) output, for the record.
type EllaCommandResult struct {
	Output string `json:"output,omitempty"`
}

// EllaRestoreInput restores the dump at Path (pg_restore --clean) with ELLA stopped.
type EllaRestoreInput struct {
	Path string `json:"path"`
}
