// Command worker runs opsflow's workflows and activities: the central worker (workflows,
// repository and artifact activities) and one worker per site on that site's task queue,
// so a site's local work happens on its own host. The demo runs all of them in one process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/gitlab"
	"github.com/opsflow/opsflow/internal/gitrepo"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/metrics"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := config.Default()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	cfg.Register(fs)
	central := fs.Bool("central", envBool("OPSFLOW_WORKER_CENTRAL", true), "run the central worker: workflows, repository and artifact activities (env OPSFLOW_WORKER_CENTRAL)")
	sites := fs.String("sites", envOr("OPSFLOW_WORKER_SITES", "all"), "sites whose local activities this process runs: all, none, or a comma list (env OPSFLOW_WORKER_SITES)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	logger := temporalx.NewRedactingLogger(temporalx.NewLogger(cfg.LogLevel))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := metrics.NewRegistry("opsflow_")
	c, err := temporalx.Dial(cfg, logger, func(o *client.Options) { o.MetricsHandler = reg.Handler() })
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	s3c, err := s3store.New(ctx, cfg.S3)
	if err != nil {
		return err
	}
	var workers []worker.Worker
	if *central {
		w, err := newCentralWorker(ctx, c, cfg, s3c)
		if err != nil {
			return err
		}
		workers = append(workers, w)
	}
	siteNames, err := selectSites(cfg, *sites)
	if err != nil {
		return err
	}
	for _, name := range siteNames {
		workers = append(workers, newSiteWorker(c, cfg, cfg.Sites[name], s3c))
	}
	if len(workers) == 0 {
		return errors.New("nothing to run: --central=false and --sites=none")
	}
	for i, w := range workers {
		if err := w.Start(); err != nil {
			for _, started := range workers[:i] {
				started.Stop()
			}
			return err
		}
	}
	logger.Info("worker started", "address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace,
		"taskQueue", cfg.Temporal.TaskQueue, "central", *central, "sites", siteNames)
	<-ctx.Done()
	logger.Info("shutting down: finishing running activities")
	for _, w := range workers {
		w.Stop()
	}
	logger.Info("worker stopped")
	return nil
}

// serveMetrics exposes the SDK's metrics (workflow and activity counts, latencies, failures
// per workflow and activity type) for Prometheus at /metrics.
func serveMetrics(addr string, reg *metrics.Registry, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics endpoint stopped", "error", err)
		}
	}()
	logger.Info("metrics endpoint", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Close() }, nil
}

func workerOptions() worker.Options {
	// Give running activities time to finish or heartbeat their progress on shutdown.
	return worker.Options{WorkerStopTimeout: 30 * time.Second}
}

func newCentralWorker(ctx context.Context, c client.Client, cfg config.Config, s3c *s3.Client) (worker.Worker, error) {
	if err := s3store.EnsureBucket(ctx, s3c, cfg.S3.ArtifactBucket); err != nil {
		return nil, err
	}
	repo := &gitrepo.Repo{Dir: cfg.Release.RepoDir, Remote: cfg.Release.Remote}
	var source activities.ArtifactSource = &activities.LocalGitSource{Repo: repo, Package: cfg.Release.Package}
	if cfg.Release.ArtifactSource == "gitlab" {
		source = &activities.GitLabSource{
			Client:       &gitlab.Client{BaseURL: cfg.Release.GitLabURL, Token: cfg.Release.GitLabToken, Project: cfg.Release.GitLabProject},
			Job:          cfg.Release.GitLabJob,
			ArtifactPath: cfg.Release.GitLabArtifact,
		}
	}
	if err := s3store.EnsureBucket(ctx, s3c, cfg.Import.Bucket); err != nil {
		return nil, err
	}
	hasher, err := ident.NewHasher([]byte(cfg.Codec.IdentifierKey), cfg.Codec.IdentifiersSensitive)
	if err != nil {
		return nil, err
	}
	w := worker.New(c, cfg.Temporal.TaskQueue, workerOptions())
	w.RegisterWorkflow(workflows.ReleaseDeploy)
	w.RegisterWorkflow(workflows.SiteLock)
	w.RegisterWorkflow(workflows.PackageImport)
	w.RegisterActivity(&activities.ImportActivities{S3: s3c, Bucket: cfg.Import.Bucket, DurableDir: cfg.Import.DurableDir, Hasher: hasher,
		Environment: cfg.Environment})
	w.RegisterActivity(&activities.ReleaseActivities{Repo: repo, Branches: cfg.Release.Branches, Sites: cfg.Sites,
		TaskQueue: cfg.Temporal.TaskQueue, Environment: cfg.Environment, StuckAfter: cfg.StuckAfter})
	w.RegisterActivity(&activities.NotifyActivities{WebhookURL: cfg.NotifyWebhook, UIURL: cfg.Temporal.UIURL, Namespace: cfg.Temporal.Namespace})
	w.RegisterActivity(&activities.ArtifactActivities{Source: source, S3: s3c, Bucket: cfg.S3.ArtifactBucket, Package: cfg.Release.Package})
	if err := registerReval(ctx, w, cfg); err != nil {
		return nil, err
	}
	return w, nil
}

// registerReval wires the revalidation sync and its rollback when Elasticsearch is configured: it checks
// each system answers, declares the RabbitMQ topology and the GMC queue at start, so a
// misconfiguration shows here rather than hours into a sync.
func registerReval(ctx context.Context, w worker.Worker, cfg config.Config) error {
	if cfg.Reval.ESURL == "" {
		slog.Info("revalidation sync not registered: OPSFLOW_ES_URL is not set")
		return nil
	}
	es, err := esclient.New(cfg.Reval.ESURL)
	if err != nil {
		return err
	}
	if _, err := es.Ping(ctx); err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	dial := func() (*amqpx.Conn, error) { return amqpx.Dial(cfg.Reval.AMQPURL) }
	conn, err := dial()
	if err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	defer conn.Close()
	if err := conn.Declare(amqpx.RevalTopology()); err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	sqsc, err := sqsclient.New(ctx, cfg.Reval.SQSEndpoint, cfg.Reval.SQSRegion)
	if err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	url, err := sqsc.EnsureQueue(ctx, workflows.GMCSyncQueue(cfg.Environment))
	if err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	if err := sqsc.SetVisibilityTimeout(ctx, url, cfg.Reval.SQSVisibility); err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	w.RegisterWorkflow(workflows.RevalidationSync)
	w.RegisterWorkflow(workflows.RevalidationRollback)
	w.RegisterActivity(&activities.SearchIndexActivities{ES: es})
	w.RegisterActivity(&activities.RabbitActivities{Dial: dial})
	w.RegisterActivity(&activities.SyncIngestActivities{DialAMQP: dial, SQS: sqsc, ES: es, BatchSize: cfg.Reval.BatchSize})
	slog.Info("revalidation sync registered", "elasticsearch", es.URL(), "gmcQueue", url)
	return nil
}

func newSiteWorker(c client.Client, cfg config.Config, site config.Site, s3c *s3.Client) worker.Worker {
	w := worker.New(c, config.SiteTaskQueue(cfg.Temporal.TaskQueue, site.Name), workerOptions())
	w.RegisterActivity(&activities.SiteActivities{
		Site: site, S3: s3c, Package: cfg.Release.Package,
		KeepVersions: cfg.Release.KeepVersions, StableFor: cfg.Release.StableFor,
	})
	return w
}

func selectSites(cfg config.Config, spec string) ([]string, error) {
	switch spec {
	case "all":
		return cfg.SiteNames(), nil
	case "none", "":
		return nil, nil
	}
	var out []string
	for _, n := range strings.Split(spec, ",") {
		n = strings.TrimSpace(n)
		if _, ok := cfg.Sites[n]; !ok {
			return nil, fmt.Errorf("--sites: unknown site %q (configured: %v)", n, cfg.SiteNames())
		}
		out = append(out, n)
	}
	return out, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(key string, def bool) bool {
	switch strings.ToLower(os.Getenv(key)) {
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	return def
}
