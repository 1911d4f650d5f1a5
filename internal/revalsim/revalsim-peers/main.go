// Command revalsim-peers plays the revalidation sync's producers for the demo and the
// benchmark on machines without the real services: a TCS that answers "syncStart" on
// RabbitMQ with N generated doctors, and a recommendation service that answers
// "gmcSyncStart" with their GMC summaries on SQS. It is NOT part of opsflow's runtime:
// production syncs talk to the real TCS and recommendation services.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "revalsim-peers:", err)
		os.Exit(1)
	}
}

func run() error {
	doctorsDefault, _ := strconv.Atoi(config.Env("OPSFLOW_SIM_DOCTORS", "2000"))
	amqpURL := flag.String("amqp-url", config.Env("OPSFLOW_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ URL (env OPSFLOW_AMQP_URL)")
	sqsURL := flag.String("sqs-endpoint", config.Env("OPSFLOW_SQS_ENDPOINT", "http://127.0.0.1:9324"), "SQS endpoint (env OPSFLOW_SQS_ENDPOINT)")
	env := flag.String("environment", config.Env("OPSFLOW_ENVIRONMENT", "dev"), "environment whose GMC queue is answered (env OPSFLOW_ENVIRONMENT)")
	doctors := flag.Int("doctors", doctorsDefault, "doctors TCS and GMC both know (env OPSFLOW_SIM_DOCTORS), up to 300000")
	gmcOnly := flag.Int("gmc-only", 0, "further doctors only GMC knows")
	seed := flag.Uint64("seed", 1, "population seed: the same seed gives the same doctors")
	flag.Parse()
	if *doctors < 0 || *doctors > 1_000_000 {
		return fmt.Errorf("--doctors %d is outside 0..1000000", *doctors)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := amqpx.Dial(*amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	sqs, err := sqsclient.New(ctx, *sqsURL, "us-east-1")
	if err != nil {
		return err
	}
	queueURL, err := sqs.EnsureQueue(ctx, reval.GMCSyncQueue(*env))
	if err != nil {
		return err
	}
	slog.Info("revalsim peers ready", "doctors", *doctors, "gmcOnly", *gmcOnly, "seed", *seed, "gmcQueue", queueURL)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return (&revalsim.TCS{Conn: conn, Doctors: *doctors, Seed: *seed}).Run(gctx) })
	g.Go(func() error {
		return (&revalsim.Recommendation{AMQP: conn, SQS: sqs, QueueURL: queueURL, Doctors: *doctors, GMCOnly: *gmcOnly, Seed: *seed}).Run(gctx)
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
