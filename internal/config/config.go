package config

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Config is the worker's configuration: the client settings plus everything its activities
// need to reach the systems a runbook touches. The starter reads only Client.
type Config struct {
	Client
	S3      S3
	Release Release
	// Sites are the deployment targets of the release runbook, keyed by name.
	Sites map[string]Site
	// SitesFile is where Sites were read from ("" = built-in demo sites).
	SitesFile string
	// LogLevel is the slog level name: debug, info, warn, error.
	LogLevel string
	// MetricsAddr is where the worker serves Prometheus metrics; empty disables them.
	MetricsAddr string
	Import      Import
	Movers      Movers
	Bridge      Bridge
	// NotifyWebhook receives a JSON notice when a run fails or is stuck.
	NotifyWebhook string
	// StuckAfter is how long a run may make no progress before operators are notified.
	StuckAfter time.Duration
	Reval      Reval
	// Ella is the ELLA host worker (ella.go); without Ella.Dir this process runs none.
	Ella Ella
	// Central runs the central worker: workflows, repository, artifact, import, sync activities.
	Central bool
	// SiteWorkers names the sites whose local activities this process runs: all, none, or a list.
	SiteWorkers string

	branches string // raw flag value, split by Finish
}

// Import configures the sample package import (filelock-exporter step).
type Import struct {
	// Bucket is the S3 import area packages arrive in, one prefix per package.
	Bucket string
	// DurableDir is the production area: packages land in samples/<name> with READY.
	DurableDir string
}

// Movers configures the NSC side of the tsd-import data movers: the lims-exporter (where the
// LIMS export queue is, where packages are written) and the nsc-exporter (how it uploads to the
// TSD S3 endpoint, Import.Bucket). The filelock-exporter is configured by Import.
type Movers struct {
	// ExportDir is the NSC export area: <kind>/<name>/ packages the lims-exporter writes and the
	// nsc-exporter uploads (default $OPSFLOW_STACK_DIR/nsc-export).
	ExportDir string
	// LimsQueueDir is a directory queue of LIMS items (the demo's LIMS); LimsURL a Clarity LIMS
	// (with LimsUser, LimsPassword and the export queue's id LimsQueue). One of them is needed
	// for the lims-exporter to run; with neither, the worker runs no lims-exporter.
	LimsQueueDir string
	LimsURL      string
	LimsUser     string
	LimsPassword string
	LimsQueue    string
	// LimsStage is the URI of the export workflow stage items are unassigned from once exported;
	// LimsReadsRoot is where relative read paths in the LIMS resolve (the demultiplexed FASTQs).
	LimsStage     string
	LimsReadsRoot string
	// Settle is the pause between the nsc-exporter's two looks at a package: a package whose
	// files change in between is still being written and is left for the next scan.
	Settle time.Duration
	// PartMiB is the multipart upload's part size in MiB (files above it are uploaded in parts).
	PartMiB int
}

// Bridge configures the Bridge downstream pipeline: where archives arrive and their
// notifications, where the JSON datasets and Parquet tables go, how datasets are chosen, and
// the limits an archive must stay within. SQS is reached through Reval's SQS endpoint and region.
type Bridge struct {
	// ArchiveBucket is where Bridge exports the ZIP archives (with their S3 metadata).
	ArchiveBucket string
	// DataBucket receives raw_json/ (NDJSON datasets) and parquet/ (the tables).
	DataBucket string
	// NotificationQueue is the SQS queue of S3 event notifications of new archives.
	NotificationQueue string
	// InvalidQueue receives the records that fail validation, with their errors.
	InvalidQueue string
	// MappingFile is the JSON dataset mapping (schema $id and assessment/revision/file
	// mappings, schemas); empty = the demo's testdata/bridge/mapping.json.
	MappingFile string
	// MaxEntries, MaxMiB and MaxRatio bound what one archive may inflate to.
	MaxEntries int
	MaxMiB     int
	MaxRatio   int
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

// Default returns the worker settings of the local dev stack (scripts/stack).
func Default() Config {
	return Config{
		Client: DefaultClient(),
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
		MetricsAddr: "127.0.0.1:9464",
		StuckAfter:  30 * time.Minute,
		Import:      Import{Bucket: "tsd-import"},
		Movers:      Movers{Settle: 30 * time.Second, PartMiB: 16},
		Bridge: Bridge{ArchiveBucket: "bridge-archives", DataBucket: "bridge-data", NotificationQueue: "bridge-archive-events",
			InvalidQueue: "bridge-invalid-records", MaxEntries: 1000, MaxMiB: 1024, MaxRatio: 200},
		Reval: Reval{AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", SQSRegion: "us-east-1",
			SQSVisibility: 30 * time.Second, BatchSize: 1000},
		Ella:        DefaultElla(),
		Central:     true,
		SiteWorkers: "all",
	}
}

// Register binds the client settings, the environment and every worker setting to fs.
// Call Finish after fs.Parse.
func (c *Config) Register(fs *flag.FlagSet) {
	c.Client.Register(fs)
	c.RegisterEnvironment(fs)
	f := c.bind(fs)
	f.String(&c.S3.Endpoint, "s3-endpoint", "OPSFLOW_S3_ENDPOINT", "S3 endpoint URL (empty = AWS)")
	f.String(&c.S3.Region, "s3-region", "OPSFLOW_S3_REGION", "S3 region")
	f.String(&c.S3.AccessKey, "s3-access-key", "OPSFLOW_S3_ACCESS_KEY", "S3 access key id")
	f.String(&c.S3.SecretKey, "s3-secret-key", "OPSFLOW_S3_SECRET_KEY", "S3 secret key")
	f.Bool(&c.S3.PathStyle, "s3-path-style", "OPSFLOW_S3_PATH_STYLE", "use path-style S3 addressing")
	f.String(&c.S3.ArtifactBucket, "artifact-bucket", "OPSFLOW_ARTIFACT_BUCKET", "bucket holding release artifacts")
	f.String(&c.Release.RepoDir, "release-repo", "OPSFLOW_RELEASE_REPO", "local clone of the release repository")
	f.String(&c.Release.Remote, "release-remote", "OPSFLOW_RELEASE_REMOTE", "git remote that receives release tags")
	c.branches = strings.Join(c.Release.Branches, ",")
	f.String(&c.branches, "release-branches", "OPSFLOW_RELEASE_BRANCHES", "comma-separated release branch candidates, first existing wins")
	f.String(&c.Release.ArtifactSource, "artifact-source", "OPSFLOW_ARTIFACT_SOURCE", "local (git archive) or gitlab (CI job artifact)")
	f.String(&c.Release.Package, "release-package", "OPSFLOW_PACKAGE", "name of the released package")
	f.String(&c.Release.GitLabURL, "gitlab-url", "OPSFLOW_GITLAB_URL", "GitLab base URL, e.g. https://gitlab.example.org")
	f.String(&c.Release.GitLabToken, "gitlab-token", "OPSFLOW_GITLAB_TOKEN", "GitLab token (read_api + play jobs)")
	f.String(&c.Release.GitLabProject, "gitlab-project", "OPSFLOW_GITLAB_PROJECT", "GitLab project id or path")
	f.String(&c.Release.GitLabJob, "gitlab-job", "OPSFLOW_GITLAB_JOB", "name of the CI job producing the artifact")
	f.String(&c.Release.GitLabArtifact, "gitlab-artifact", "OPSFLOW_GITLAB_ARTIFACT", "artifact path inside the job, {version} replaced")
	f.Int(&c.Release.KeepVersions, "keep-versions", "OPSFLOW_KEEP_VERSIONS", "extracted versions kept per site, at least 2")
	f.Duration(&c.Release.StableFor, "stable-for", "OPSFLOW_STABLE_FOR", "how long a started service must stay RUNNING")
	f.String(&c.SitesFile, "sites-file", "OPSFLOW_SITES_FILE", "JSON file describing the deployment sites (empty = demo sites under OPSFLOW_STACK_DIR)")
	f.String(&c.LogLevel, "log-level", "OPSFLOW_LOG_LEVEL", "debug, info, warn or error")
	f.String(&c.MetricsAddr, "metrics-addr", "OPSFLOW_METRICS_ADDR", "worker Prometheus metrics address (empty disables)")
	f.String(&c.Import.Bucket, "import-bucket", "OPSFLOW_IMPORT_BUCKET", "S3 bucket packages arrive in (one prefix per package)")
	f.String(&c.Import.DurableDir, "durable-dir", "OPSFLOW_DURABLE_DIR", "durable area where imported packages land (default $OPSFLOW_STACK_DIR/durable)")
	f.String(&c.Movers.ExportDir, "export-dir", "OPSFLOW_EXPORT_DIR", "NSC export area the lims-exporter writes and the nsc-exporter uploads (default $OPSFLOW_STACK_DIR/nsc-export)")
	f.String(&c.Movers.LimsQueueDir, "lims-queue-dir", "OPSFLOW_LIMS_QUEUE_DIR", "directory queue of LIMS items (demo LIMS); or use --lims-url")
	f.String(&c.Movers.LimsURL, "lims-url", "OPSFLOW_LIMS_URL", "Clarity LIMS base URL, e.g. https://lims.example.org")
	f.String(&c.Movers.LimsUser, "lims-user", "OPSFLOW_LIMS_USER", "Clarity LIMS API user")
	f.String(&c.Movers.LimsPassword, "lims-password", "OPSFLOW_LIMS_PASSWORD", "Clarity LIMS API password")
	f.String(&c.Movers.LimsQueue, "lims-queue", "OPSFLOW_LIMS_QUEUE", "Clarity queue (protocol step) id of the export step")
	f.String(&c.Movers.LimsStage, "lims-stage", "OPSFLOW_LIMS_STAGE", "Clarity workflow stage URI an exported artifact is unassigned from")
	f.String(&c.Movers.LimsReadsRoot, "lims-reads-root", "OPSFLOW_LIMS_READS_ROOT", "directory relative read paths of the Clarity LIMS resolve against")
	f.Duration(&c.Movers.Settle, "export-settle", "OPSFLOW_EXPORT_SETTLE", "pause between the nsc-exporter's two looks at a package")
	f.Int(&c.Movers.PartMiB, "upload-part-mib", "OPSFLOW_UPLOAD_PART_MIB", "multipart upload part size in MiB (5..512)")
	f.String(&c.Bridge.ArchiveBucket, "bridge-archive-bucket", "OPSFLOW_BRIDGE_ARCHIVE_BUCKET", "S3 bucket Bridge exports ZIP archives to")
	f.String(&c.Bridge.DataBucket, "bridge-data-bucket", "OPSFLOW_BRIDGE_DATA_BUCKET", "S3 bucket of the JSON datasets (raw_json/) and Parquet tables (parquet/)")
	f.String(&c.Bridge.NotificationQueue, "bridge-notification-queue", "OPSFLOW_BRIDGE_NOTIFICATION_QUEUE", "SQS queue of S3 event notifications of new archives")
	f.String(&c.Bridge.InvalidQueue, "bridge-invalid-queue", "OPSFLOW_BRIDGE_INVALID_QUEUE", "SQS queue receiving records that fail validation")
	f.String(&c.Bridge.MappingFile, "bridge-mapping", "OPSFLOW_BRIDGE_MAPPING", "JSON dataset mapping and schemas (default testdata/bridge/mapping.json)")
	f.Int(&c.Bridge.MaxEntries, "bridge-max-entries", "OPSFLOW_BRIDGE_MAX_ENTRIES", "most entries an archive may hold")
	f.Int(&c.Bridge.MaxMiB, "bridge-max-mib", "OPSFLOW_BRIDGE_MAX_MIB", "most MiB an archive may inflate to")
	f.Int(&c.Bridge.MaxRatio, "bridge-max-ratio", "OPSFLOW_BRIDGE_MAX_RATIO", "highest compression ratio of an archive entry (a bomb above it)")
	f.String(&c.NotifyWebhook, "notify-webhook", "OPSFLOW_NOTIFY_WEBHOOK", "URL receiving a JSON notice when a run fails or is stuck")
	f.Duration(&c.StuckAfter, "stuck-after", "OPSFLOW_STUCK_AFTER", "notify when a run makes no progress this long, 0 disables")
	f.String(&c.Reval.ESURL, "es-url", "OPSFLOW_ES_URL", "OpenSearch (or Elasticsearch 7) URL of the revalidation index (empty disables the revalidation sync)")
	f.String(&c.Reval.AMQPURL, "amqp-url", "OPSFLOW_AMQP_URL", "RabbitMQ URL of the revalidation services")
	f.String(&c.Reval.SQSEndpoint, "sqs-endpoint", "OPSFLOW_SQS_ENDPOINT", "SQS endpoint URL (empty = AWS)")
	f.String(&c.Reval.SQSRegion, "sqs-region", "OPSFLOW_SQS_REGION", "SQS region")
	f.Duration(&c.Reval.SQSVisibility, "sqs-visibility", "OPSFLOW_SQS_VISIBILITY", "how long a received GMC message stays hidden before redelivery")
	f.Int(&c.Reval.BatchSize, "reval-batch", "OPSFLOW_REVAL_BATCH", "documents per Elasticsearch bulk request in the revalidation sync")
	f.Bool(&c.Central, "central", "OPSFLOW_WORKER_CENTRAL", "run the central worker: workflows, repository, artifact, import and sync activities")
	f.String(&c.SiteWorkers, "sites", "OPSFLOW_WORKER_SITES", "sites whose local activities this process runs: all, none, or a comma list")
	c.Ella.register(f)
}

// Finish loads the sites and validates the whole configuration after flags were parsed.
func (c *Config) Finish() error {
	c.Release.Branches = splitList(c.branches)
	if err := c.loadSites(); err != nil {
		return err
	}
	return c.Validate()
}

// Validate reports every problem at once so an operator fixes the config in one go.
func (c *Config) Validate() error {
	errs := []error{c.Client.Validate()}
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
	if c.Movers.PartMiB < 5 || c.Movers.PartMiB > 512 {
		errs = append(errs, fmt.Errorf("upload-part-mib %d is outside 5..512 (OPSFLOW_UPLOAD_PART_MIB)", c.Movers.PartMiB))
	}
	if c.Movers.Settle < 0 {
		errs = append(errs, fmt.Errorf("export-settle %s is negative (OPSFLOW_EXPORT_SETTLE)", c.Movers.Settle))
	}
	if c.Movers.LimsQueueDir != "" && c.Movers.LimsURL != "" {
		errs = append(errs, errors.New("give the LIMS as OPSFLOW_LIMS_QUEUE_DIR or OPSFLOW_LIMS_URL, not both"))
	}
	if c.Movers.LimsURL != "" && c.Movers.LimsQueue == "" {
		errs = append(errs, errors.New("a Clarity LIMS (OPSFLOW_LIMS_URL) needs its export queue's id: OPSFLOW_LIMS_QUEUE"))
	}
	if c.Movers.LimsURL != "" && c.Movers.LimsStage == "" {
		errs = append(errs, errors.New("a Clarity LIMS (OPSFLOW_LIMS_URL) needs the export stage exported items leave: OPSFLOW_LIMS_STAGE"))
	}
	if c.Bridge.MaxEntries < 1 || c.Bridge.MaxMiB < 1 || c.Bridge.MaxRatio < 2 {
		errs = append(errs, fmt.Errorf("bridge limits: entries %d, MiB %d, ratio %d must be at least 1, 1, 2 (OPSFLOW_BRIDGE_MAX_*)",
			c.Bridge.MaxEntries, c.Bridge.MaxMiB, c.Bridge.MaxRatio))
	}
	errs = append(errs, c.validateSites()...)
	errs = append(errs, c.Ella.validate()...)
	return errors.Join(errs...)
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
