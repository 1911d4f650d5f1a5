// Package config holds opsflow's typed configuration, in two parts: Client, what every
// process that talks to Temporal needs (the starter's subcommands and the worker), and
// Config, the worker's settings on top of it (sites, release repository, GitLab, S3, import,
// the revalidation sync's servers).
//
// Every setting has a flag and an OPSFLOW_* environment variable (see Flags); flags win over
// the environment, the environment over the defaults. Sites are described in a JSON file
// (OPSFLOW_SITES_FILE) because a site is a structure, not a scalar.
package config

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/opsflow/opsflow/internal/ident"
)

// DefaultTaskQueue is where workflows and the non-site activities run.
const DefaultTaskQueue = "opsflow"

// DefaultEnvironment is the environment of the dev stack.
const DefaultEnvironment = "dev"

// Client is what a process needs to start, follow and serve runs: where Temporal is, the
// payload codec keys, how sensitive identifiers are hashed, and the environment.
type Client struct {
	Temporal Temporal
	Codec    Codec
	// Environment names the deployment (prod, preprod, dev). The process that starts a run
	// decides it: `opsflow` puts it in the run's input and its OpsflowEnvironment search
	// attribute; the worker's own is the default of runs started without one.
	Environment string

	bound []*Flags // what Register and RegisterEnvironment bound; Validate reports their malformed variables
}

// Temporal says where the Temporal frontend is and which queue this deployment uses.
type Temporal struct {
	Address   string
	Namespace string
	TaskQueue string
	// UIURL is the base of the Web UI, used to print links to runs.
	UIURL string
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

// Hasher is the keyed hash of sensitive identifiers these settings describe, the one every
// process uses for workflow ids, search attributes and logs.
func (c Codec) Hasher() (*ident.Hasher, error) {
	return ident.NewHasher([]byte(c.IdentifierKey), c.IdentifiersSensitive)
}

// DefaultClient returns the client settings of the local dev stack (scripts/stack).
func DefaultClient() Client {
	return Client{
		Temporal: Temporal{
			Address:   "127.0.0.1:7233",
			Namespace: "default",
			TaskQueue: DefaultTaskQueue,
			UIURL:     "http://127.0.0.1:8233",
		},
		Codec:       Codec{IdentifiersSensitive: true},
		Environment: DefaultEnvironment,
	}
}

// Register binds the connection settings (Temporal, codec keys, identifier hashing) to fs.
// Call Validate after fs.Parse.
func (c *Client) Register(fs *flag.FlagSet) {
	f := c.bind(fs)
	f.String(&c.Temporal.Address, "temporal-address", "OPSFLOW_TEMPORAL_ADDRESS", "Temporal frontend host:port")
	f.String(&c.Temporal.Namespace, "temporal-namespace", "OPSFLOW_TEMPORAL_NAMESPACE", "Temporal namespace")
	f.String(&c.Temporal.TaskQueue, "task-queue", "OPSFLOW_TASK_QUEUE", "task queue of workflows and central activities")
	f.String(&c.Temporal.UIURL, "ui-url", "OPSFLOW_UI_URL", "Temporal Web UI base URL, for links")
	f.String(&c.Codec.KeysFile, "codec-keys-file", "OPSFLOW_CODEC_KEYS_FILE", "file of id:base64 AES-256 keys, active key first")
	f.String(&c.Codec.Keys, "codec-keys", "OPSFLOW_CODEC_KEYS", "id:base64 AES-256 keys, comma-separated, active key first (prefer the file)")
	f.String(&c.Codec.IdentifierKey, "identifier-key", "OPSFLOW_IDENTIFIER_KEY", "secret for hashing sensitive identifiers in ids, search attributes and logs")
	f.Bool(&c.Codec.IdentifiersSensitive, "identifiers-sensitive", "OPSFLOW_IDENTIFIERS_SENSITIVE",
		"hash sample/package/person identifiers outside encrypted payloads: true/false, yes/no, 1/0")
}

// RegisterEnvironment binds --environment (and its short form --env) to fs, defaulting to
// OPSFLOW_ENVIRONMENT.
func (c *Client) RegisterEnvironment(fs *flag.FlagSet) {
	c.bind(fs).String(&c.Environment, "environment", "OPSFLOW_ENVIRONMENT", "deployment name (prod, preprod, dev), a search attribute of every run")
	fs.StringVar(&c.Environment, "env", c.Environment, "short for --environment")
}

// bind returns a Flags on fs whose errors Validate reports.
func (c *Client) bind(fs *flag.FlagSet) *Flags {
	f := NewFlags(fs)
	c.bound = append(c.bound, f)
	return f
}

// Validate reports every problem of the client settings at once, malformed variables first.
func (c *Client) Validate() error {
	var errs []error
	for _, f := range c.bound {
		errs = append(errs, f.Err())
	}
	if c.Temporal.Address == "" {
		errs = append(errs, errors.New("temporal address is empty (OPSFLOW_TEMPORAL_ADDRESS)"))
	}
	if err := CheckEnvironment(c.Environment); err != nil {
		errs = append(errs, fmt.Errorf("%w (OPSFLOW_ENVIRONMENT, --environment)", err))
	}
	if c.Temporal.TaskQueue == "" {
		errs = append(errs, errors.New("task queue is empty (OPSFLOW_TASK_QUEUE)"))
	}
	if c.Codec.KeysFile == "" && c.Codec.Keys == "" {
		errs = append(errs, errors.New("no payload encryption key: set OPSFLOW_CODEC_KEYS_FILE (scripts/stack env provides a dev key; `opsflow codec-key` makes one)"))
	}
	if c.Codec.IdentifiersSensitive && len(c.Codec.IdentifierKey) < 16 {
		errs = append(errs, errors.New("identifiers are sensitive but OPSFLOW_IDENTIFIER_KEY is missing or shorter than 16 characters"))
	}
	return errors.Join(errs...)
}

// WorkflowURL links to one run in the Web UI.
func (c *Client) WorkflowURL(workflowID, runID string) string {
	u := strings.TrimRight(c.Temporal.UIURL, "/") + "/namespaces/" + c.Temporal.Namespace + "/workflows/" + workflowID
	if runID != "" {
		u += "/" + runID
	}
	return u
}

// SiteTaskQueue is the queue a site's local worker polls, like an operator's ssh session to
// it. It derives from the deployment's task queue so two deployments never share site queues.
func SiteTaskQueue(taskQueue, site string) string { return taskQueue + "-site-" + site }

// environmentRE is an environment name: it goes into workflow ids, search attributes, queue
// names (tis-revalidation-sync-gmc-queue-<env>) and schedule ids, so it is kept to letters,
// digits and dashes.
var environmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// CheckEnvironment refuses an environment name that could not be part of an id or a queue
// name (e.g. "../prod", "prod;touch x"), before anything is created under it.
func CheckEnvironment(env string) error {
	if !environmentRE.MatchString(env) {
		return fmt.Errorf("environment %q is not a name of letters, digits and dashes (at most 63)", env)
	}
	return nil
}
