package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/opsflow/opsflow/internal/ella"
)

// DefaultEllaTaskQueue is the task queue of the ELLA host's worker (its ella-cli, supervisord,
// database and production directory are there, not on the central worker's host).
const DefaultEllaTaskQueue = "ella"

// Ella configures the ELLA host worker: the process on the host that runs ELLA (ella-cli,
// its supervisord, its database, the production directory) and runs the EllaDeploy,
// EllaHealth and EllaFailover activities there. Without Dir the process runs no ELLA host
// worker. Validate parses the raw settings (CLIJSON, DBURL, Configs, MailTemplatesFile) into
// CLI, DB, AllowedConfigs and MailTemplates.
type Ella struct {
	// Dir is ELLA's production directory: archive/releases/, ella-prod/ella.sif, backups/.
	Dir string
	// TaskQueue is what the ELLA host's worker polls; a deploy's input names it.
	TaskQueue string
	// CLIJSON is ella-cli as a JSON array argv with ella.ImageArg where the image goes; CLI is
	// it parsed (never a shell string: each element is one argument).
	CLIJSON string
	CLI     []string
	// DBURL is ELLA's database, postgres://user:password@host:port/db: ella-cli gets it as
	// DB_URL, pg_dump and pg_restore get DB (the password in their environment only).
	DBURL string
	DB    EllaDB
	// ConfigDir holds the config files a deploy may load (default <Dir>/config); Configs is
	// the comma list of their allowed names, AllowedConfigs the parsed list.
	ConfigDir      string
	Configs        string
	AllowedConfigs []string
	// SupervisorURL, SupervisorUser and SupervisorPassword reach the supervisord running
	// ELLA's programs; a started program must stay RUNNING for StableFor.
	SupervisorURL      string
	SupervisorUser     string
	SupervisorPassword string
	StableFor          time.Duration
	// PageURL is ELLA's web page, which must answer within PageTimeout once ELLA runs; APIURL
	// an API resource the health check times; AccessLog nginx's access log (5xx counted).
	PageURL     string
	PageTimeout time.Duration
	APIURL      string
	AccessLog   string
	// SMTPAddr (host:port) and MailFrom send the deploy's and the health check's e-mails;
	// MailTemplatesFile optionally overrides templates by name, loaded into MailTemplates.
	SMTPAddr          string
	MailFrom          string
	MailTemplatesFile string
	MailTemplates     map[string]EllaMailTemplate
}

// EllaDB is ELLA's database as pg_dump and pg_restore reach it (activities.EllaPG).
type EllaDB struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
}

// EllaMailTemplate is one e-mail's subject and body, Go text/templates; the same shape as
// activities.EllaMailTemplate (config cannot import activities, which imports config).
type EllaMailTemplate struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// DefaultElla is the ELLA host worker's defaults: no host (Dir empty), the production
// ella-cli (singularity exec <image> ella-cli) and the activities' durations.
func DefaultElla() Ella {
	cli, _ := json.Marshal(ella.SingularityPrefix(ella.ImageArg))
	return Ella{
		TaskQueue:   DefaultEllaTaskQueue,
		CLIJSON:     string(cli),
		StableFor:   5 * time.Second,
		PageTimeout: time.Minute,
		MailFrom:    "ELLA drift <ella-drift@localhost>",
	}
}

// register binds the ELLA host worker's settings to f.
func (e *Ella) register(f *Flags) {
	f.String(&e.Dir, "ella-dir", "OPSFLOW_ELLA_DIR", "ELLA's production directory on this host (archive/releases/, ella-prod/ella.sif, backups/); empty: no ELLA host worker")
	f.String(&e.TaskQueue, "ella-task-queue", "OPSFLOW_ELLA_TASK_QUEUE", "task queue of this host's ELLA worker")
	f.String(&e.CLIJSON, "ella-cli", "OPSFLOW_ELLA_CLI", `ella-cli as a JSON array, "`+ella.ImageArg+`" where the image goes`)
	f.String(&e.DBURL, "ella-db-url", "OPSFLOW_ELLA_DB_URL", "ELLA's database, postgres://user:password@host:port/db (ella-cli's DB_URL, pg_dump, pg_restore)")
	f.String(&e.ConfigDir, "ella-config-dir", "OPSFLOW_ELLA_CONFIG_DIR", "directory of the config files a deploy may load (default <ella-dir>/config)")
	f.String(&e.Configs, "ella-configs", "OPSFLOW_ELLA_CONFIGS", "comma list of the config file names a deploy may load, e.g. usergroups.json,filterconfigs.json")
	f.String(&e.SupervisorURL, "ella-supervisor-url", "OPSFLOW_ELLA_SUPERVISOR_URL", "XML-RPC URL of the supervisord running ELLA, e.g. http://127.0.0.1:9011/RPC2")
	f.String(&e.SupervisorUser, "ella-supervisor-user", "OPSFLOW_ELLA_SUPERVISOR_USER", "user of ELLA's supervisord")
	f.String(&e.SupervisorPassword, "ella-supervisor-password", "OPSFLOW_ELLA_SUPERVISOR_PASSWORD", "password of ELLA's supervisord")
	f.Duration(&e.StableFor, "ella-stable-for", "OPSFLOW_ELLA_STABLE_FOR", "how long a started ELLA program must stay RUNNING")
	f.String(&e.PageURL, "ella-page-url", "OPSFLOW_ELLA_PAGE_URL", "ELLA's web page, which must answer once ELLA runs")
	f.Duration(&e.PageTimeout, "ella-page-timeout", "OPSFLOW_ELLA_PAGE_TIMEOUT", "how long ELLA's page may take to answer after a start")
	f.String(&e.APIURL, "ella-api-url", "OPSFLOW_ELLA_API_URL", "ELLA API resource the health check times (empty: not timed)")
	f.String(&e.AccessLog, "ella-access-log", "OPSFLOW_ELLA_ACCESS_LOG", "nginx access log whose 5xx the health check counts (empty: not counted)")
	f.String(&e.SMTPAddr, "smtp-addr", "OPSFLOW_SMTP_ADDR", "SMTP server host:port of ELLA's e-mails")
	f.String(&e.MailFrom, "mail-from", "OPSFLOW_MAIL_FROM", "sender of ELLA's e-mails")
	f.String(&e.MailTemplatesFile, "ella-mail-templates", "OPSFLOW_ELLA_MAIL_TEMPLATES",
		`JSON file {"<template>": {"subject": "...", "body": "..."}} replacing default ELLA e-mail templates`)
}

// validate parses the raw settings and reports every problem of an ELLA host worker; without
// Dir there is none and nothing is checked.
func (e *Ella) validate() []error {
	if e.Dir == "" {
		return nil
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if abs, err := filepath.Abs(e.Dir); err != nil {
		add(fmt.Errorf("ella-dir %q: %w (OPSFLOW_ELLA_DIR)", e.Dir, err))
	} else {
		e.Dir = abs
	}
	if e.ConfigDir == "" {
		e.ConfigDir = filepath.Join(e.Dir, "config")
	}
	if !ellaTaskQueueRE.MatchString(e.TaskQueue) {
		add(fmt.Errorf("ella-task-queue %q is not a task queue name (OPSFLOW_ELLA_TASK_QUEUE)", e.TaskQueue))
	}
	var err error
	e.CLI, err = ParseEllaCLI(e.CLIJSON)
	add(err)
	e.DB, err = ParseEllaDBURL(e.DBURL)
	add(err)
	e.AllowedConfigs = splitList(e.Configs)
	for _, c := range e.AllowedConfigs {
		if err := ella.CheckConfigName(c); err != nil {
			add(fmt.Errorf("ella-configs: %w (OPSFLOW_ELLA_CONFIGS)", err))
		}
	}
	if e.SupervisorURL == "" {
		add(errors.New("an ELLA host (OPSFLOW_ELLA_DIR) needs the supervisord running ELLA: OPSFLOW_ELLA_SUPERVISOR_URL is empty"))
	} else {
		add(checkHTTPURL("ella-supervisor-url", "OPSFLOW_ELLA_SUPERVISOR_URL", e.SupervisorURL))
	}
	if e.PageURL == "" {
		add(errors.New("an ELLA host (OPSFLOW_ELLA_DIR) needs ELLA's web page to check a start: OPSFLOW_ELLA_PAGE_URL is empty"))
	} else {
		add(checkHTTPURL("ella-page-url", "OPSFLOW_ELLA_PAGE_URL", e.PageURL))
	}
	if e.APIURL != "" {
		add(checkHTTPURL("ella-api-url", "OPSFLOW_ELLA_API_URL", e.APIURL))
	}
	if e.StableFor <= 0 {
		add(fmt.Errorf("ella-stable-for %s is not positive (OPSFLOW_ELLA_STABLE_FOR)", e.StableFor))
	}
	if e.PageTimeout <= 0 {
		add(fmt.Errorf("ella-page-timeout %s is not positive (OPSFLOW_ELLA_PAGE_TIMEOUT)", e.PageTimeout))
	}
	if e.SMTPAddr == "" {
		add(errors.New("an ELLA host (OPSFLOW_ELLA_DIR) sends e-mail: OPSFLOW_SMTP_ADDR (host:port) is empty"))
	} else if host, port, err := net.SplitHostPort(e.SMTPAddr); err != nil || host == "" || port == "" {
		add(fmt.Errorf("smtp-addr %q is not host:port (OPSFLOW_SMTP_ADDR)", e.SMTPAddr))
	}
	if _, err := mail.ParseAddress(e.MailFrom); err != nil {
		add(fmt.Errorf("mail-from %q is not an e-mail address: %v (OPSFLOW_MAIL_FROM)", e.MailFrom, err))
	}
	e.MailTemplates = nil
	if e.MailTemplatesFile != "" {
		e.MailTemplates, err = LoadEllaMailTemplates(e.MailTemplatesFile)
		add(err)
	}
	return errs
}

// ParseEllaCLI reads ella-cli's argv: a JSON array of non-empty strings holding ella.ImageArg
// (the pre-flight runs `database compare` from the new image before the switch).
func ParseEllaCLI(s string) ([]string, error) {
	var argv []string
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&argv); err != nil || dec.More() {
		return nil, fmt.Errorf(`ella-cli %q is not a JSON array of strings like ["singularity","exec","%s","ella-cli"] (OPSFLOW_ELLA_CLI)`, s, ella.ImageArg)
	}
	cli, err := ella.NewCLI(argv)
	if err != nil {
		return nil, fmt.Errorf("%w (OPSFLOW_ELLA_CLI)", err)
	}
	if _, err := cli.ForImage("image.sif"); err != nil {
		return nil, fmt.Errorf("%w (OPSFLOW_ELLA_CLI)", err)
	}
	return cli.Prefix, nil
}

// ParseEllaDBURL reads postgres://user:password@host[:port]/database (port 5432 when
// omitted; query parameters such as sslmode stay in the URL ella-cli gets). Its errors never
// show the password.
func ParseEllaDBURL(s string) (EllaDB, error) {
	if s == "" {
		return EllaDB{}, errors.New("an ELLA host (OPSFLOW_ELLA_DIR) needs ELLA's database: OPSFLOW_ELLA_DB_URL is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url's error quotes the URL, password included: not shown.
		return EllaDB{}, errors.New("ella-db-url does not parse as a URL postgres://user:password@host:port/db (OPSFLOW_ELLA_DB_URL)")
	}
	bad := func(why string) (EllaDB, error) {
		return EllaDB{}, fmt.Errorf("ella-db-url %s: %s (OPSFLOW_ELLA_DB_URL)", u.Redacted(), why)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return bad("the scheme is not postgres://")
	}
	db := EllaDB{Host: u.Hostname(), Port: 5432, Database: strings.TrimPrefix(u.Path, "/")}
	if u.User != nil {
		db.User = u.User.Username()
		db.Password, _ = u.User.Password()
	}
	switch {
	case db.Host == "":
		return bad("no host")
	case db.User == "":
		return bad("no user")
	case db.Database == "" || strings.Contains(db.Database, "/"):
		return bad("no database name (the path /<db>)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port " + p + " is not a TCP port")
		}
		db.Port = n
	}
	return db, nil
}

// LoadEllaMailTemplates reads a JSON object of e-mail templates by name; each subject and
// body must parse as a text/template. Which names exist is checked by MergeEllaMailTemplates.
func LoadEllaMailTemplates(path string) (map[string]EllaMailTemplate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ella-mail-templates: %w (OPSFLOW_ELLA_MAIL_TEMPLATES)", err)
	}
	var ts map[string]EllaMailTemplate
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ts); err != nil {
		return nil, fmt.Errorf("ella-mail-templates %s: %w", path, err)
	}
	var errs []error
	for _, name := range sortedKeys(ts) {
		t := ts[name]
		if strings.TrimSpace(t.Subject) == "" || strings.TrimSpace(t.Body) == "" {
			errs = append(errs, fmt.Errorf("ella-mail-templates %s: template %q needs a subject and a body", path, name))
		}
		for _, part := range [][2]string{{"subject", t.Subject}, {"body", t.Body}} {
			if _, err := template.New(name + " " + part[0]).Option("missingkey=error").Parse(part[1]); err != nil {
				errs = append(errs, fmt.Errorf("ella-mail-templates %s: template %q %s: %w", path, name, part[0], err))
			}
		}
	}
	return ts, errors.Join(errs...)
}

// MergeEllaMailTemplates is defaults with each template of the file replacing its namesake;
// a name the defaults do not have is an error (a typo would otherwise never be used).
func MergeEllaMailTemplates(defaults, overrides map[string]EllaMailTemplate) (map[string]EllaMailTemplate, error) {
	out := make(map[string]EllaMailTemplate, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	var errs []error
	for _, name := range sortedKeys(overrides) {
		if _, ok := defaults[name]; !ok {
			errs = append(errs, fmt.Errorf("ella-mail-templates: no e-mail is called %q (known: %s)", name, strings.Join(sortedKeys(defaults), ", ")))
			continue
		}
		out[name] = overrides[name]
	}
	return out, errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func checkHTTPURL(flagName, env, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := "(not shown: it does not parse)"
		if err == nil {
			shown = strconv.Quote(u.Redacted())
		}
		return fmt.Errorf("%s %s is not an http(s) URL (%s)", flagName, shown, env)
	}
	return nil
}

// ellaTaskQueueRE is what ella.DeployInput and ella.FailoverInput accept as a host's task queue.
var ellaTaskQueueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$`)
