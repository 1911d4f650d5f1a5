// Command worker runs opsflow's workflows and activities: the central worker (workflows and
// the activities of the central task queue) and one worker per site on that site's task
// queue, so a site's local work happens on its own host. The demo runs all of them in one
// process. Each procedure registers what it needs in its own file (release.go, imports.go,
// reval.go, ella.go, notify.go); this file only wires the configuration to them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/metrics"
	"github.com/opsflow/opsflow/internal/temporalx"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// procedures register their workflows, activities and task queues, in this order.
var procedures = []func(*host) error{registerRelease, registerImport, registerMovers, registerBridge, registerReval, registerElla, registerNotify}

func run() error {
	cfg := config.Default()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	cfg.Register(fs)
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
	c, err := temporalx.Dial(cfg.Client, logger, func(o *client.Options) { o.MetricsHandler = reg.Handler() })
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

	h := newHost(ctx, c, cfg)
	for _, register := range procedures {
		if err := register(h); err != nil {
			return err
		}
	}
	return h.run(ctx)
}
