package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
)

// EllaActivities run the ELLA deploy's steps on the ELLA host: ella-cli (a configured
// argument list, ella.CLI), the production symlink, pg_dump/pg_restore, supervisord and SMTP.
// The worker sets every field; the zero durations take the defaults below.
type EllaActivities struct {
	// Dir is ELLA's production directory: archive/releases/ (the images), ella-prod/ella.sif
	// (the symlink ELLA runs from) and backups/ (the dumps).
	Dir string
	// CLI runs ella-cli; its prefix holds ella.ImageArg where the image goes (production:
	// ella.SingularityPrefix(ella.ImageArg)). CLIEnv is added to ella-cli's environment
	// (e.g. DB_URL, as ELLA's environment has it).
	CLI    ella.CLI
	CLIEnv []string
	// ConfigDir holds the config files a deploy may load; AllowedConfigs names them (plain
	// .json names, the ones tested on staging). Anything else is refused.
	ConfigDir      string
	AllowedConfigs []string
	// PG is ELLA's database for pg_dump and pg_restore.
	PG EllaPG
	// Supervisor is the client of the supervisord that runs ELLA's programs; a started
	// program must stay RUNNING for StableFor (default 5s).
	Supervisor *supervisor.Client
	StableFor  time.Duration
	// PageURL is ELLA's web page, which must answer 2xx within PageTimeout (default 60s)
	// once the programs run.
	PageURL     string
	PageTimeout time.Duration
	// APIURL is an ELLA API resource whose response time CheckEllaHealth measures (ELLA has
	// no health endpoint; empty: not measured). AccessLog is nginx's access log, whose new
	// lines' 5xx the check counts (empty: not counted).
	APIURL    string
	AccessLog string
	// Mail is the SMTP server, the sender and the templates of the deploy's e-mails.
	Mail EllaMail
}

// EllaPG is how pg_dump and pg_restore reach ELLA's database. The password goes to the tools'
// environment (PGPASSWORD), never onto their command line.
type EllaPG struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
}

// Defaults of EllaActivities' durations.
const (
	DefaultEllaStableFor   = 5 * time.Second
	DefaultEllaPageTimeout = time.Minute
)

// Layout of the production directory.
const (
	ellaBackupsDir = "backups"
	ellaDumpSuffix = ".dump"
)

func (a *EllaActivities) linkPath() string {
	return filepath.Join(a.Dir, filepath.FromSlash(ella.ProductionLink))
}

func (a *EllaActivities) imagePath(name string) string {
	return filepath.Join(a.Dir, filepath.FromSlash(ella.ReleasesDir), name)
}

// cli is the configured ella-cli run from image (ErrInvalidInput: no ella.ImageArg).
func (a *EllaActivities) cli(image string) (ella.CLI, error) {
	c, err := a.CLI.ForImage(image)
	if err != nil {
		return ella.CLI{}, permanent(ErrInvalidInput, err, "ELLA worker configuration: %v", err)
	}
	return c, nil
}

// CheckEllaRelease is the pre-flight: the image exists under archive/releases with the given
// checksum (ErrEllaImageMissing, ErrChecksumMismatch), each config file is allowed and present
// (ErrEllaConfigRefused), supervisord answers for every program, and `ella-cli database
// compare` under the new image tells whether a migration is due. Nothing is changed.
func (a *EllaActivities) CheckEllaRelease(ctx context.Context, in EllaCheckInput) (EllaCheckResult, error) {
	if err := ella.CheckImageName(in.Image); err != nil {
		return EllaCheckResult{}, permanent(ErrEllaImageMissing, err, "%v", err)
	}
	if err := ella.CheckSHA256(in.SHA256); err != nil {
		return EllaCheckResult{}, permanent(ErrInvalidInput, err, "%v", err)
	}
	image := a.imagePath(in.Image)
	fi, err := os.Lstat(image)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return EllaCheckResult{}, permanent(ErrEllaImageMissing, err, "image %s is not under %s", in.Image, ella.ReleasesDir)
	case err != nil:
		return EllaCheckResult{}, fmt.Errorf("image %s: %w", in.Image, err)
	case !fi.Mode().IsRegular():
		return EllaCheckResult{}, permanent(ErrEllaImageMissing, nil, "image %s under %s is not a regular file (%s)", in.Image, ella.ReleasesDir, fi.Mode().Type())
	}
	sum, err := fileSHA256(ctx, image)
	if err != nil {
		return EllaCheckResult{}, fmt.Errorf("image %s: %w", in.Image, err)
	}
	if sum != in.SHA256 {
		return EllaCheckResult{}, permanent(ErrChecksumMismatch, nil, "image %s has sha256 %s, not the expected %s", in.Image, sum, in.SHA256)
	}
	for _, c := range in.ConfigFiles {
		if _, err := a.configPath(c); err != nil {
			return EllaCheckResult{}, err
		}
	}
	// supervisord must answer and know every program now: a deploy that tells users and
	// broadcasts the downtime, then cannot stop ELLA, would only end in a rollback.
	if a.Supervisor == nil {
		return EllaCheckResult{}, permanent(ErrInvalidInput, nil, "no supervisord is configured for ELLA (OPSFLOW_ELLA_SUPERVISOR_URL)")
	}
	for _, p := range ella.Programs {
		if _, err := a.Supervisor.ProcessInfo(ctx, p); err != nil {
			return EllaCheckResult{}, fmt.Errorf("ELLA's supervisord at %s cannot report program %s, so ELLA could not be stopped: %w",
				a.Supervisor.Endpoint(), p, err)
		}
	}
	target, err := os.Readlink(a.linkPath())
	if err != nil {
		return EllaCheckResult{}, permanent(ErrEllaSymlinkMoved, err, "%s is not a symlink to the running image: %v", ella.ProductionLink, err)
	}
	cli, err := a.cli(image)
	if err != nil {
		return EllaCheckResult{}, err
	}
	out, code, err := a.run(ctx, cli.DatabaseCompare())
	if err != nil {
		return EllaCheckResult{}, err
	}
	if code != 0 && code != 1 {
		return EllaCheckResult{}, permanent(ErrEllaCommandFailed, nil, "ella-cli database compare (image %s) exited %d: %s", in.Image, code, out)
	}
	return EllaCheckResult{CurrentTarget: target, MigrationDue: code == 1, ImageSize: fi.Size()}, nil
}

// configPath is a config file's path in ConfigDir once it is allowed, of a known kind and a
// regular file there (ErrEllaConfigRefused).
func (a *EllaActivities) configPath(c ella.ConfigFile) (string, error) {
	if c.Kind != ella.ConfigUserGroups && c.Kind != ella.ConfigFilterConfigs {
		return "", permanent(ErrEllaConfigRefused, nil, "config file %q: kind %q is neither %s nor %s", c.Name, c.Kind, ella.ConfigUserGroups, ella.ConfigFilterConfigs)
	}
	if err := ella.CheckConfigAllowed(c.Name, a.AllowedConfigs); err != nil {
		return "", permanent(ErrEllaConfigRefused, err, "%s: %v", c.Kind, err)
	}
	if a.ConfigDir == "" {
		return "", permanent(ErrEllaConfigRefused, nil, "config file %q: no config directory is configured", c.Name)
	}
	p := filepath.Join(a.ConfigDir, c.Name)
	fi, err := os.Lstat(p)
	if err != nil {
		return "", permanent(ErrEllaConfigRefused, err, "%s config file %q is not in the config directory: %v", c.Kind, c.Name, err)
	}
	if !fi.Mode().IsRegular() {
		return "", permanent(ErrEllaConfigRefused, nil, "%s config file %q is not a regular file", c.Kind, c.Name)
	}
	return p, nil
}

// fileSHA256 hashes a file, heartbeating while it reads.
func fileSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	stop := heartbeatEvery(ctx, "hashing the image")
	defer stop()
	h := sha256.New()
	if _, err := io.Copy(h, readerCtx{ctx, f}); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readerCtx stops a long copy when the activity is cancelled.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
