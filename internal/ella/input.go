package ella

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ReleasesDir is where release images are uploaded, relative to the ELLA production
// directory; a deploy names its image by a plain file name inside it.
const ReleasesDir = "archive/releases"

// Programs are ELLA's supervisord programs, stopped and started together.
var Programs = []string{"nginx", "api", "polling", "analysis-watcher"}

// Bounds and defaults of the acceptance window and of the reminders sent during it.
const (
	DefaultAcceptanceWithin = 48 * time.Hour
	MinAcceptanceWithin     = 10 * time.Minute
	MaxAcceptanceWithin     = 14 * 24 * time.Hour
	DefaultRemindEvery      = 8 * time.Hour
	MinRemindEvery          = 5 * time.Minute
)

// Config file kinds a deploy may load with ella-cli after the migration.
const (
	ConfigUserGroups    = "usergroups"
	ConfigFilterConfigs = "filterconfigs"
)

// DeployInput is what an operator gives a deploy: the image uploaded under ReleasesDir, its
// checksum, the config files to load, the window told to users, the acceptance deadline and
// who is told what.
type DeployInput struct {
	// Version is the release tag (e.g. v1.17.2), shown in messages and the change record.
	Version string `json:"version"`
	// Image is the image's plain file name under ReleasesDir (e.g. ella-release-v1.17.2.sif).
	Image string `json:"image"`
	// SHA256 is the image's expected checksum (64 hex digits).
	SHA256 string `json:"sha256"`
	// UserGroups and FilterConfigs name config files (plain names, from the configured
	// allowed list) loaded with `users add_groups` and `filterconfigs update`; empty: none.
	UserGroups    string `json:"userGroups,omitempty"`
	FilterConfigs string `json:"filterConfigs,omitempty"`
	// Window is the planned downtime as told to users (e.g. "tirsdag 1. desember 16–18").
	Window string `json:"window"`
	// DowntimeMessage replaces the default broadcast (DowntimeMessage(Version, Window)).
	DowntimeMessage string `json:"downtimeMessage,omitempty"`
	// AcceptanceWithin is how long testers have once told to start (a Go duration; default 48h).
	AcceptanceWithin string `json:"acceptanceWithin,omitempty"`
	// RemindEvery is how often testers are reminded while no decision came (default 8h).
	RemindEvery string `json:"remindEvery,omitempty"`
	// Users are told about the window and the outcome; Testers run the acceptance test.
	Users   []string `json:"users"`
	Testers []string `json:"testers"`
	// Change describes the change for the change record (what and why).
	Change string `json:"change,omitempty"`
	// TaskQueue is the ELLA host's task queue, where its worker runs the deploy's activities
	// (ella-cli, supervisord, pg_dump, the symlink, e-mail); empty: the run's own task queue.
	TaskQueue string `json:"taskQueue,omitempty"`
}

var versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// Validate refuses an input no deploy should start with, naming the field at fault. The
// allowed config file names are checked by the pre-flight (they are configuration).
func (in DeployInput) Validate() error {
	var errs []error
	if !versionRE.MatchString(in.Version) {
		errs = append(errs, fmt.Errorf("version %q is not a release tag like v1.17.2", in.Version))
	}
	if err := CheckImageName(in.Image); err != nil {
		errs = append(errs, err)
	}
	if err := CheckSHA256(in.SHA256); err != nil {
		errs = append(errs, err)
	}
	for _, c := range in.ConfigFiles() {
		if err := CheckConfigName(c.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Kind, err))
		}
	}
	if strings.TrimSpace(in.Window) == "" {
		errs = append(errs, errors.New("window: the planned downtime told to users is missing"))
	} else if err := checkText("window", in.Window, 200); err != nil {
		errs = append(errs, err)
	}
	if err := CheckBroadcast(in.Downtime()); err != nil {
		errs = append(errs, fmt.Errorf("downtime message: %w", err))
	}
	if in.Change != "" {
		if err := checkText("change", strings.ReplaceAll(in.Change, "\n", " "), 2000); err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := in.Windows(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkRecipients("users", in.Users), checkRecipients("testers", in.Testers))
	if in.TaskQueue != "" && !taskQueueRE.MatchString(in.TaskQueue) {
		errs = append(errs, fmt.Errorf("taskQueue %q is not a host's task queue name", in.TaskQueue))
	}
	return errors.Join(errs...)
}

// Downtime is the broadcast shown while ELLA is down: the input's, or the default.
func (in DeployInput) Downtime() string {
	if in.DowntimeMessage != "" {
		return in.DowntimeMessage
	}
	return DowntimeMessage(in.Version, in.Window)
}

// Windows parses the acceptance window and the reminder interval (defaults when empty).
func (in DeployInput) Windows() (within, remind time.Duration, err error) {
	within, remind = DefaultAcceptanceWithin, DefaultRemindEvery
	if in.AcceptanceWithin != "" {
		d, err := time.ParseDuration(in.AcceptanceWithin)
		if err != nil || d < MinAcceptanceWithin || d > MaxAcceptanceWithin {
			return 0, 0, fmt.Errorf("acceptanceWithin %q is not a duration between %s and %s (e.g. 48h)",
				in.AcceptanceWithin, MinAcceptanceWithin, MaxAcceptanceWithin)
		}
		within = d
	}
	if in.RemindEvery != "" {
		d, err := time.ParseDuration(in.RemindEvery)
		if err != nil || d < MinRemindEvery {
			return 0, 0, fmt.Errorf("remindEvery %q is not a duration of at least %s (e.g. 8h)", in.RemindEvery, MinRemindEvery)
		}
		remind = d
	}
	return within, remind, nil
}

// ConfigFile is one config file a deploy loads, with its kind (ConfigUserGroups or
// ConfigFilterConfigs).
type ConfigFile struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ConfigFiles lists the config files the input names, user groups first (ELLA's setup order).
func (in DeployInput) ConfigFiles() []ConfigFile {
	var out []ConfigFile
	if in.UserGroups != "" {
		out = append(out, ConfigFile{Kind: ConfigUserGroups, Name: in.UserGroups})
	}
	if in.FilterConfigs != "" {
		out = append(out, ConfigFile{Kind: ConfigFilterConfigs, Name: in.FilterConfigs})
	}
	return out
}

// CheckImageName refuses an image name that is not a plain .sif file name: it must name a
// file directly under ReleasesDir and never an option of the command it is passed to.
func CheckImageName(name string) error {
	if err := checkPlainName(name); err != nil {
		return fmt.Errorf("image %q under %s: %w", name, ReleasesDir, err)
	}
	if !strings.HasSuffix(name, ".sif") {
		return fmt.Errorf("image %q under %s: not a Singularity image (.sif)", name, ReleasesDir)
	}
	return nil
}

// CheckConfigName refuses a config file name that is not a plain .json file name.
func CheckConfigName(name string) error {
	if err := checkPlainName(name); err != nil {
		return fmt.Errorf("config file %q: %w", name, err)
	}
	if !strings.HasSuffix(name, ".json") {
		return fmt.Errorf("config file %q: not a .json file", name)
	}
	return nil
}

// CheckConfigAllowed refuses a config file name that is not plain or not on the allowed list
// (the files an operator prepared and tested on staging).
func CheckConfigAllowed(name string, allowed []string) error {
	if err := CheckConfigName(name); err != nil {
		return err
	}
	for _, a := range allowed {
		if a == name {
			return nil
		}
	}
	return fmt.Errorf("config file %q is not one of the allowed config files %v", name, allowed)
}

// CheckSHA256 refuses anything but 64 lower-case hex digits.
func CheckSHA256(sum string) error {
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", sum)
	}
	return nil
}

var plainNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]{0,199}$`)

func checkPlainName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case name == "." || name == ".." || strings.ContainsAny(name, `/\`):
		return errors.New("not a plain file name (no directories)")
	case !plainNameRE.MatchString(name):
		return errors.New("only letters, digits and ._+- are allowed, not first (a leading - would read as an option)")
	}
	return nil
}

// addressRE is a bare addr-spec (local@domain), nothing a mail header could be built from
// besides the address: no display name, no spaces, no line breaks. (Not net/mail, which
// workflowcheck refuses: Validate runs in the workflow.)
var addressRE = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_{}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`)

func checkRecipients(field string, addrs []string) error {
	if len(addrs) == 0 {
		return fmt.Errorf("%s: no e-mail address", field)
	}
	for _, a := range addrs {
		if !addressRE.MatchString(a) {
			return fmt.Errorf("%s: %q is not a bare e-mail address", field, a)
		}
	}
	return nil
}

// ProductionLink is the symlink ELLA runs from, relative to the production directory.
const ProductionLink = "ella-prod/ella.sif"

// LinkTarget is what ProductionLink holds for an image under ReleasesDir (relative, so the
// production directory can move).
func LinkTarget(image string) string { return "../" + ReleasesDir + "/" + image }
