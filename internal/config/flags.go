package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Register binds every setting to a flag on fs, with the environment as the default value.
// A typed OPSFLOW_* value that does not parse (a boolean "ture", a duration "3") is kept as
// an error that Finish reports; it never silently falls back to a default or to false.
// Call Finish after fs.Parse.
func (c *Config) Register(fs *flag.FlagSet) {
	str := func(p *string, name, env, usage string) {
		*p = envOr(env, *p)
		fs.StringVar(p, name, *p, usage+" (env "+env+")")
	}
	str(&c.Temporal.Address, "temporal-address", "OPSFLOW_TEMPORAL_ADDRESS", "Temporal frontend host:port")
	str(&c.Temporal.Namespace, "temporal-namespace", "OPSFLOW_TEMPORAL_NAMESPACE", "Temporal namespace")
	str(&c.Temporal.TaskQueue, "task-queue", "OPSFLOW_TASK_QUEUE", "task queue of workflows and central activities")
	str(&c.Temporal.UIURL, "ui-url", "OPSFLOW_UI_URL", "Temporal Web UI base URL, for links")
	str(&c.S3.Endpoint, "s3-endpoint", "OPSFLOW_S3_ENDPOINT", "S3 endpoint URL (empty = AWS)")
	str(&c.S3.Region, "s3-region", "OPSFLOW_S3_REGION", "S3 region")
	str(&c.S3.AccessKey, "s3-access-key", "OPSFLOW_S3_ACCESS_KEY", "S3 access key id")
	str(&c.S3.SecretKey, "s3-secret-key", "OPSFLOW_S3_SECRET_KEY", "S3 secret key")
	str(&c.S3.ArtifactBucket, "artifact-bucket", "OPSFLOW_ARTIFACT_BUCKET", "bucket holding release artifacts")
	str(&c.Release.RepoDir, "release-repo", "OPSFLOW_RELEASE_REPO", "local clone of the release repository")
	str(&c.Release.Remote, "release-remote", "OPSFLOW_RELEASE_REMOTE", "git remote that receives release tags")
	str(&c.Release.ArtifactSource, "artifact-source", "OPSFLOW_ARTIFACT_SOURCE", "local (git archive) or gitlab (CI job artifact)")
	str(&c.Release.Package, "release-package", "OPSFLOW_PACKAGE", "name of the released package")
	str(&c.Release.GitLabURL, "gitlab-url", "OPSFLOW_GITLAB_URL", "GitLab base URL, e.g. https://gitlab.example.org")
	str(&c.Release.GitLabToken, "gitlab-token", "OPSFLOW_GITLAB_TOKEN", "GitLab token (read_api + play jobs)")
	str(&c.Release.GitLabProject, "gitlab-project", "OPSFLOW_GITLAB_PROJECT", "GitLab project id or path")
	str(&c.Release.GitLabJob, "gitlab-job", "OPSFLOW_GITLAB_JOB", "name of the CI job producing the artifact")
	str(&c.Release.GitLabArtifact, "gitlab-artifact", "OPSFLOW_GITLAB_ARTIFACT", "artifact path inside the job, {version} replaced")
	str(&c.SitesFile, "sites-file", "OPSFLOW_SITES_FILE", "JSON file describing the deployment sites (empty = demo sites under OPSFLOW_STACK_DIR)")
	str(&c.LogLevel, "log-level", "OPSFLOW_LOG_LEVEL", "debug, info, warn or error")
	str(&c.Environment, "environment", "OPSFLOW_ENVIRONMENT", "deployment name (prod, preprod, dev), a search attribute of every run")
	fs.StringVar(&c.Environment, "env", c.Environment, "short for --environment")
	str(&c.Codec.KeysFile, "codec-keys-file", "OPSFLOW_CODEC_KEYS_FILE", "file of id:base64 AES-256 keys, active key first")
	str(&c.Codec.Keys, "codec-keys", "OPSFLOW_CODEC_KEYS", "id:base64 AES-256 keys, comma-separated, active key first (prefer the file)")
	str(&c.Codec.IdentifierKey, "identifier-key", "OPSFLOW_IDENTIFIER_KEY", "secret for hashing sensitive identifiers in ids, search attributes and logs")
	str(&c.Import.Bucket, "import-bucket", "OPSFLOW_IMPORT_BUCKET", "S3 bucket packages arrive in (one prefix per package)")
	str(&c.Import.DurableDir, "durable-dir", "OPSFLOW_DURABLE_DIR", "durable area where imported packages land (default $OPSFLOW_STACK_DIR/durable)")
	str(&c.NotifyWebhook, "notify-webhook", "OPSFLOW_NOTIFY_WEBHOOK", "URL receiving a JSON notice when a run fails or is stuck")
	c.duration(fs, &c.StuckAfter, "stuck-after", "OPSFLOW_STUCK_AFTER", "notify when a run makes no progress this long, 0 disables")
	str(&c.MetricsAddr, "metrics-addr", "OPSFLOW_METRICS_ADDR", "worker Prometheus metrics address (empty disables)")
	c.boolean(fs, &c.Codec.IdentifiersSensitive, "identifiers-sensitive", "OPSFLOW_IDENTIFIERS_SENSITIVE",
		"hash sample/package/person identifiers outside encrypted payloads: true/false, yes/no, 1/0")

	c.branches = envOr("OPSFLOW_RELEASE_BRANCHES", strings.Join(c.Release.Branches, ","))
	fs.StringVar(&c.branches, "release-branches", c.branches, "comma-separated release branch candidates, first existing wins (env OPSFLOW_RELEASE_BRANCHES)")

	c.boolean(fs, &c.S3.PathStyle, "s3-path-style", "OPSFLOW_S3_PATH_STYLE", "use path-style S3 addressing")
	c.integer(fs, &c.Release.KeepVersions, "keep-versions", "OPSFLOW_KEEP_VERSIONS", "extracted versions kept per site, at least 2")
	c.duration(fs, &c.Release.StableFor, "stable-for", "OPSFLOW_STABLE_FOR", "how long a started service must stay RUNNING")

	str(&c.Reval.ESURL, "es-url", "OPSFLOW_ES_URL", "OpenSearch (or Elasticsearch 7) URL of the revalidation index (empty disables the revalidation sync)")
	str(&c.Reval.AMQPURL, "amqp-url", "OPSFLOW_AMQP_URL", "RabbitMQ URL of the revalidation services")
	str(&c.Reval.SQSEndpoint, "sqs-endpoint", "OPSFLOW_SQS_ENDPOINT", "SQS endpoint URL (empty = AWS)")
	str(&c.Reval.SQSRegion, "sqs-region", "OPSFLOW_SQS_REGION", "SQS region")
	c.duration(fs, &c.Reval.SQSVisibility, "sqs-visibility", "OPSFLOW_SQS_VISIBILITY", "how long a received GMC message stays hidden before redelivery")
	c.integer(fs, &c.Reval.BatchSize, "reval-batch", "OPSFLOW_REVAL_BATCH", "documents per Elasticsearch bulk request in the revalidation sync")
}

// ParseBool reads a yes/no setting: strconv.ParseBool's values (1, t, true, 0, f, false in
// any of its spellings) and yes/no in any case. Anything else is an error, so a typo never
// quietly turns a protection off.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (use true/false, yes/no or 1/0)", s)
	}
	return v, nil
}

// boolFlag is a flag.Value for ParseBool, so the flag takes the same values as the variable.
type boolFlag struct{ p *bool }

func (b boolFlag) String() string {
	if b.p == nil {
		return "false"
	}
	return strconv.FormatBool(*b.p)
}

func (b boolFlag) Set(s string) error {
	v, err := ParseBool(s)
	if err != nil {
		return err
	}
	*b.p = v
	return nil
}

func (b boolFlag) IsBoolFlag() bool { return true }

// boolean binds a yes/no setting; an OPSFLOW_* value ParseBool refuses is a configuration error.
func (c *Config) boolean(fs *flag.FlagSet, p *bool, name, env, usage string) {
	if v, ok := lookupEnv(env); ok {
		if b, err := ParseBool(v); err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not a boolean (use true/false, yes/no or 1/0)", env, v))
		} else {
			*p = b
		}
	}
	fs.Var(boolFlag{p}, name, usage+" (env "+env+")")
}

func (c *Config) duration(fs *flag.FlagSet, p *time.Duration, name, env, usage string) {
	if v, ok := lookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not a duration (e.g. 30s, 15m, 2h)", env, v))
		} else {
			*p = d
		}
	}
	fs.DurationVar(p, name, *p, usage+" (env "+env+")")
}

func (c *Config) integer(fs *flag.FlagSet, p *int, name, env, usage string) {
	if v, ok := lookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err != nil {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q is not an integer", env, v))
		} else {
			*p = n
		}
	}
	fs.IntVar(p, name, *p, usage+" (env "+env+")")
}

// lookupEnv returns a variable that is set and not empty; empty counts as unset, as for
// the string settings.
func lookupEnv(key string) (string, bool) {
	v, ok := os.LookupEnv(key)
	return v, ok && v != ""
}

func envOr(key, def string) string {
	if v, ok := lookupEnv(key); ok {
		return v
	}
	return def
}
