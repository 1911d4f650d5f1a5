package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/metrics"
	"github.com/opsflow/opsflow/internal/s3store"
)

// host is what a procedure's registration function gets: the configuration, the central
// worker (nil when this process does not run it, --central=false) and the workers of other
// task queues the procedures asked for.
type host struct {
	ctx     context.Context
	client  client.Client
	cfg     config.Config
	central worker.Worker
	workers []worker.Worker

	s3once sync.Once
	s3     *s3.Client
	s3err  error
}

func newHost(ctx context.Context, c client.Client, cfg config.Config) *host {
	h := &host{ctx: ctx, client: c, cfg: cfg}
	if cfg.Central {
		h.central = h.queue(cfg.Temporal.TaskQueue)
	}
	return h
}

// queue adds a worker polling taskQueue.
func (h *host) queue(taskQueue string) worker.Worker {
	// Give running activities time to finish or heartbeat their progress on shutdown.
	w := worker.New(h.client, taskQueue, worker.Options{WorkerStopTimeout: 30 * time.Second, Interceptors: crashInterceptors()})
	h.workers = append(h.workers, w)
	return w
}

// S3 is the object store client the release and the import share, made on first use.
func (h *host) S3() (*s3.Client, error) {
	h.s3once.Do(func() { h.s3, h.s3err = s3store.New(h.ctx, h.cfg.S3) })
	return h.s3, h.s3err
}

// run starts every worker, waits for SIGINT or SIGTERM and stops them, letting running
// activities finish.
func (h *host) run(ctx context.Context) error {
	if len(h.workers) == 0 {
		return errors.New("nothing to run: --central=false and --sites=none")
	}
	for i, w := range h.workers {
		if err := w.Start(); err != nil {
			for _, started := range h.workers[:i] {
				started.Stop()
			}
			return err
		}
	}
	slog.Info("worker started", "address", h.cfg.Temporal.Address, "namespace", h.cfg.Temporal.Namespace,
		"taskQueue", h.cfg.Temporal.TaskQueue, "central", h.cfg.Central, "environment", h.cfg.Environment)
	<-ctx.Done()
	slog.Info("shutting down: finishing running activities")
	for _, w := range h.workers {
		w.Stop()
	}
	slog.Info("worker stopped")
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
