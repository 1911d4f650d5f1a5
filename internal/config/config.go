// Package config holds the one typed configuration shared by the worker and the starter.
//
// Every setting has a flag and an OPSFLOW_* environment variable; flags win over the
// environment, the environment over the defaults. Sites are described in a JSON file
// (OPSFLOW_SITES_FILE) because a site is a structure, not a scalar.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// DefaultTaskQueue is where workflows and the non-site activities run.
const DefaultTaskQueue = "opsflow"

// Config is everything a worker or starter needs to reach the systems a runbook touches.
type Config struct {
	Temporal Temporal
	S3       S3
	Release  Release
	// Sites are the deployment targets of the release runbook, keyed by name.
	Sites map[string]Site
	// SitesFile is where Sites were read from ("" = built-in demo sites).
	SitesFile string
	// LogLevel is the slog level name: debug, info, warn, error.
	LogLevel string
	// Environment names the deployment (prod, preprod, dev); runs are findable by it.
	Environment string
	Codec       Codec
	// MetricsAddr is where the worker serves Prometheus metrics; empty disables them.
	MetricsAddr string
	Import      Import
	// NotifyWebhook receives a JSON notice when a run fails or is stuck.
	NotifyWebhook string
	// StuckAfter is how long a run may make no progress before operators are notified.
	StuckAfter time.Duration
	Reval      Reval

	branches string // raw flag value, split by Finish
	// envErrs are OPSFLOW_* values that did not parse; Validate reports them.
	envErrs []error
}

// Import configures the sample package import (filelock-exporter step).
type Import struct {
	// Bucket is the S3 import area packages arrive in, one prefix per package.
	Bucket string
	// DurableDir is the production area: packages land in samples/<name> with READY.
	DurableDir string
}

// Reval configures the revalidation sync's three systems. The worker runs the sync only
// when ESURL is set, so a deployment without Elasticsearch still runs the other runbooks.
type Reval struct {
	// ESURL is the Elasticsearch base URL (user:password in the URL if needed).
	ESURL string
	// AMQPURL is the RabbitMQ the revalidation services share.
	AMQPURL string
	// SQSEndpoint is the SQS endpoint (empty = AWS); SQSRegion its region.
	SQSEndpoint string
	SQSRegion   string
	// SQSVisibility is how long a received GMC message stays hidden before it is
	// delivered again (after a crash).
	SQSVisibility time.Duration
	// BatchSize is documents per bulk request.
	BatchSize int
}

// Codec configures payload encryption and the hashing of identifiers outside payloads.
type Codec struct {
	// KeysFile or Keys hold "id:base64key" entries, the active (encrypting) key first.
	KeysFile string
	Keys     string
	// IdentifierKey keys the HMAC of sensitive identifiers in workflow ids, search attributes, logs.
	IdentifierKey string
	// IdentifiersSensitive false lets identifiers appear in clear (a deployment without personal data).
	IdentifiersSensitive bool
}

// Temporal says where the Temporal frontend is and which queue this deployment uses.
type Temporal struct {
	Address   string
	Namespace string
	TaskQueue string
	// UIURL is the base of the Web UI, used to print links to runs.
	UIURL string
}

// S3 addresses the object store that holds release artifacts (and later data packages).
type S3 struct {
	Endpoint  string // empty = AWS default resolution
	Region    string
	AccessKey string
	SecretKey string
	// PathStyle is required by most non-AWS servers (versitygw, MinIO).
	PathStyle      bool
	ArtifactBucket string
}

// Release configures where the release repository lives and how artifacts are produced.
type Release struct {
	// RepoDir is a clone of the release repository owned by the worker.
	RepoDir string
	Remote  string
	// Branches are the candidate release branches, first existing wins.
	Branches []string
	// ArtifactSource is "local" (git archive of the tag) or "gitlab" (the CI job's artifact).
	ArtifactSource string
	// Package is the software's name, used in artifact and directory names.
	Package        string
	GitLabURL      string
	GitLabToken    string
	GitLabProject  string
	GitLabJob      string
	GitLabArtifact string // path inside the job's artifacts; "{version}" is replaced
	// KeepVersions is how many extracted versions a site keeps (current + previous at least).
	KeepVersions int
	// StableFor is how long a started service must stay RUNNING to count as started.
	StableFor time.Duration
}

// Site is one deployment target: a directory on a host and the services supervisord runs there.
type Site struct {
	Name string `json:"name"`
	// Dir is the site's base directory ({transfer} on NSC, {production} on TSD).
	Dir string `json:"dir"`
	// Components are repository path prefixes; a release deploys here only if one changed.
	Components []string `json:"components"`
	// Services are stopped before and started after the extraction, in this order.
	Services []Service `json:"services"`
}

// Service is one supervisord program, on the supervisord of the host that runs it.
type Service struct {
	Name string `json:"name"`
	Host string `json:"host,omitempty"`
	// SupervisorURL is the XML-RPC endpoint, e.g. http://127.0.0.1:9001/RPC2.
	SupervisorURL      string `json:"supervisorUrl,omitempty"`
	SupervisorUser     string `json:"supervisorUser,omitempty"`
	SupervisorPassword string `json:"supervisorPassword,omitempty"`
}

// SiteTaskQueue is the queue a site's local worker polls, like an operator's ssh session to
// it. It derives from the deployment's task queue so two deployments never share site queues.
func SiteTaskQueue(taskQueue, site string) string { return taskQueue + "-site-" + site }

var siteNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Default returns the settings of the local dev stack (scripts/stack).
func Default() Config {
	return Config{
		Temporal: Temporal{
			Address:   "127.0.0.1:7233",
			Namespace: "default",
			TaskQueue: DefaultTaskQueue,
			UIURL:     "http://127.0.0.1:8233",
		},
		S3: S3{
			Endpoint:       "http://127.0.0.1:7070",
			Region:         "us-east-1",
			AccessKey:      "opsflow",
			SecretKey:      "opsflow-secret",
			PathStyle:      true,
			ArtifactBucket: "opsflow-artifacts",
		},
		Release: Release{
			RepoDir:        ".stack/repos/tsd-import",
			Remote:         "origin",
			Branches:       []string{"master", "main"},
			ArtifactSource: "local",
			Package:        "tsd-import",
			GitLabJob:      "release-artifact",
			GitLabArtifact: "tsd-import-{version}.tar.gz",
			KeepVersions:   2,
			StableFor:      3 * time.Second,
		},
		LogLevel:    "info",
		Environment: "dev",
		Codec:       Codec{IdentifiersSensitive: true},
		MetricsAddr: "127.0.0.1:9464",
		StuckAfter:  30 * time.Minute,
		Import:      Import{Bucket: "tsd-import"},
		Reval: Reval{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", SQSRegion: "us-east-1",
			SQSVisibility: 30 * time.Second, BatchSize: 1000},
	}
}

// DemoSites are the tsd-import sites of the seed procedure, laid out under stackDir.
func DemoSites(stackDir, supervisorURL, user, password string) map[string]Site {
	svc := func(name, host string) Service {
		return Service{Name: name, Host: host, SupervisorURL: supervisorURL, SupervisorUser: user, SupervisorPassword: password}
	}
	return map[string]Site{
		"nsc": {
			Name:       "nsc",
			Dir:        filepath.Join(stackDir, "sites", "nsc"),
			Components: []string{"lims-exporter/", "nsc-exporter/", "bin/lims-exporter-api", "bin/nsc-exporter"},
			Services:   []Service{svc("lims-exporter-api", "gdx-login"), svc("nsc-exporter", "sleipnir")},
		},
		"tsd": {
			Name:       "tsd",
			Dir:        filepath.Join(stackDir, "sites", "tsd"),
			Components: []string{"filelock-exporter/", "bin/filelock-exporter-api"},
			Services:   []Service{svc("filelock-exporter-api", "p22-hpc")},
		},
	}
}

// Finish loads the sites and validates the whole configuration after flags were parsed.
func (c *Config) Finish() error {
	if c.branches != "" {
		c.Release.Branches = splitList(c.branches)
	}
	if err := c.loadSites(); err != nil {
		return err
	}
	return c.Validate()
}

func (c *Config) loadSites() error {
	stack := envOr("OPSFLOW_STACK_DIR", ".stack")
	abs, err := filepath.Abs(stack)
	if err != nil {
		return fmt.Errorf("config: stack dir %q: %w", stack, err)
	}
	if c.Import.DurableDir == "" {
		c.Import.DurableDir = filepath.Join(abs, "durable")
	}
	if c.SitesFile == "" {
		c.Sites = DemoSites(abs,
			envOr("OPSFLOW_SUPERVISOR_URL", "http://127.0.0.1:9001/RPC2"),
			envOr("OPSFLOW_SUPERVISOR_USER", "opsflow"),
			envOr("OPSFLOW_SUPERVISOR_PASSWORD", "opsflow"))
		return nil
	}
	sites, err := LoadSites(c.SitesFile)
	if err != nil {
		return err
	}
	c.Sites = sites
	return nil
}

// LoadSites reads a JSON array of sites, the way a deployment describes its hosts.
func LoadSites(path string) (map[string]Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: sites file: %w", err)
	}
	var list []Site
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("config: sites file %s: %w", path, err)
	}
	sites := make(map[string]Site, len(list))
	for _, s := range list {
		if _, dup := sites[s.Name]; dup {
			return nil, fmt.Errorf("config: sites file %s: site %q defined twice", path, s.Name)
		}
		sites[s.Name] = s
	}
	return sites, nil
}

// Validate reports every problem at once so an operator fixes the config in one go.
func (c *Config) Validate() error {
	errs := append([]error{}, c.envErrs...)
	if c.Temporal.Address == "" {
		errs = append(errs, errors.New("temporal address is empty (OPSFLOW_TEMPORAL_ADDRESS)"))
	}
	if c.Temporal.TaskQueue == "" {
		errs = append(errs, errors.New("task queue is empty (OPSFLOW_TASK_QUEUE)"))
	}
	switch c.Release.ArtifactSource {
	case "local":
	case "gitlab":
		if c.Release.GitLabURL == "" || c.Release.GitLabProject == "" {
			errs = append(errs, errors.New("artifact source gitlab needs OPSFLOW_GITLAB_URL and OPSFLOW_GITLAB_PROJECT"))
		}
	default:
		errs = append(errs, fmt.Errorf("artifact source %q is neither local nor gitlab (OPSFLOW_ARTIFACT_SOURCE)", c.Release.ArtifactSource))
	}
	if c.Release.KeepVersions < 2 {
		errs = append(errs, fmt.Errorf("keep-versions %d is below 2: the previous version is needed for rollback", c.Release.KeepVersions))
	}
	if c.Codec.KeysFile == "" && c.Codec.Keys == "" {
		errs = append(errs, errors.New("no payload encryption key: set OPSFLOW_CODEC_KEYS_FILE (scripts/stack env provides a dev key; `opsflow codec-key` makes one)"))
	}
	if c.Codec.IdentifiersSensitive && len(c.Codec.IdentifierKey) < 16 {
		errs = append(errs, errors.New("identifiers are sensitive but OPSFLOW_IDENTIFIER_KEY is missing or shorter than 16 characters"))
	}
	if len(c.Release.Branches) == 0 {
		errs = append(errs, errors.New("no release branch candidates (OPSFLOW_RELEASE_BRANCHES)"))
	}
	if c.Reval.ESURL != "" {
		if c.Reval.AMQPURL == "" {
			errs = append(errs, errors.New("the revalidation sync needs RabbitMQ: OPSFLOW_AMQP_URL is empty"))
		}
		if c.Reval.BatchSize < 1 || c.Reval.BatchSize > 10000 {
			errs = append(errs, fmt.Errorf("reval-batch %d is outside 1..10000 (OPSFLOW_REVAL_BATCH)", c.Reval.BatchSize))
		}
		if c.Reval.SQSVisibility < time.Second || c.Reval.SQSVisibility > 12*time.Hour {
			errs = append(errs, fmt.Errorf("sqs-visibility %s is outside 1s..12h (OPSFLOW_SQS_VISIBILITY)", c.Reval.SQSVisibility))
		}
	}
	for _, name := range c.SiteNames() {
		s := c.Sites[name]
		if !siteNameRE.MatchString(name) || s.Name != name {
			errs = append(errs, fmt.Errorf("site %q: name must be lowercase letters, digits and dashes", name))
		}
		if !filepath.IsAbs(s.Dir) {
			errs = append(errs, fmt.Errorf("site %q: dir %q must be an absolute path", name, s.Dir))
		}
		if len(s.Services) == 0 {
			errs = append(errs, fmt.Errorf("site %q: no services", name))
		}
		for _, svc := range s.Services {
			if svc.Name == "" || svc.SupervisorURL == "" {
				errs = append(errs, fmt.Errorf("site %q: service %q needs a name and a supervisorUrl", name, svc.Name))
			}
		}
	}
	return errors.Join(errs...)
}

// SiteNames returns the configured site names in a stable order.
func (c *Config) SiteNames() []string {
	names := make([]string, 0, len(c.Sites))
	for n := range c.Sites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WorkflowURL links to one run in the Web UI.
func (c *Config) WorkflowURL(workflowID, runID string) string {
	u := strings.TrimRight(c.Temporal.UIURL, "/") + "/namespaces/" + c.Temporal.Namespace + "/workflows/" + workflowID
	if runID != "" {
		u += "/" + runID
	}
	return u
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
