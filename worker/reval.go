package main

import (
	"fmt"
	"log/slog"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/workflows"
)

// registerReval wires the revalidation sync and its rollback on the central queue when the
// search engine is configured. It checks each system answers and declares the RabbitMQ
// topology and the worker's environment's GMC queue at start, so a misconfiguration shows
// here rather than hours into a sync.
func registerReval(h *host) error {
	cfg := h.cfg.Reval
	if h.central == nil {
		return nil
	}
	if cfg.ESURL == "" {
		slog.Info("revalidation sync not registered: OPSFLOW_ES_URL is not set")
		return nil
	}
	es, err := esclient.New(cfg.ESURL)
	if err != nil {
		return err
	}
	if _, err := es.Ping(h.ctx); err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	dial := func() (*amqpx.Conn, error) { return amqpx.Dial(cfg.AMQPURL) }
	conn, err := dial()
	if err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	defer conn.Close()
	if err := conn.Declare(reval.Topology()); err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	sqsc, err := sqsclient.New(h.ctx, cfg.SQSEndpoint, cfg.SQSRegion)
	if err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	url, err := sqsc.EnsureQueue(h.ctx, reval.GMCSyncQueue(h.cfg.Environment))
	if err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	if err := sqsc.SetVisibilityTimeout(h.ctx, url, cfg.SQSVisibility); err != nil {
		return fmt.Errorf("revalidation sync: %w", err)
	}
	h.central.RegisterWorkflow(workflows.RevalidationSync)
	h.central.RegisterWorkflow(workflows.RevalidationRollback)
	h.central.RegisterActivity(&activities.SearchIndexActivities{ES: es})
	h.central.RegisterActivity(&activities.RabbitActivities{Dial: dial, Sink: es, BatchSize: cfg.BatchSize})
	h.central.RegisterActivity(&activities.SQSActivities{SQS: sqsc, Sink: es, BatchSize: cfg.BatchSize})
	slog.Info("revalidation sync registered", "elasticsearch", es.URL(), "gmcQueue", url)
	return nil
}
