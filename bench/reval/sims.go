package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// The simulators (internal/revalsim's TCS and recommendation service) run in a child process,
// the benchmark binary itself started as `reval simulators ...`, so the CPU they burn is
// reported apart from the raw client's and the worker's.
const (
	simulatorsCommand = "simulators"
	answeredFormat    = "simulators: answered syncStart=%d gmcSyncStart=%d\n"
)

// runSimulators is the child: it serves syncStart and gmcSyncStart until SIGTERM, printing
// how many of each it answered whenever that changes.
func runSimulators(args []string) error {
	fs := flag.NewFlagSet(simulatorsCommand, flag.ContinueOnError)
	amqpURL := fs.String("amqp-url", "", "RabbitMQ URL")
	endpoint := fs.String("sqs-endpoint", "", "SQS endpoint")
	region := fs.String("sqs-region", "us-east-1", "SQS region")
	queueURL := fs.String("queue-url", "", "the GMC queue")
	doctors := fs.Int("doctors", 0, "doctors TCS sends")
	gmcOnly := fs.Int("gmc-only", 0, "doctors only GMC knows")
	seed := fs.Uint64("seed", 1, "population seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := amqpx.Dial(*amqpURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	sqs, err := sqsclient.New(ctx, *endpoint, *region)
	if err != nil {
		return err
	}
	tcs := &revalsim.TCS{Conn: conn, Doctors: *doctors, Seed: *seed}
	rec := &revalsim.Recommendation{AMQP: conn, SQS: sqs, QueueURL: *queueURL, Doctors: *doctors, GMCOnly: *gmcOnly, Seed: *seed}
	errs := make(chan error, 2)
	for _, sim := range []interface{ Run(context.Context) error }{tcs, rec} {
		go func() { errs <- sim.Run(ctx) }()
	}
	fmt.Printf(answeredFormat, 0, 0)
	var t, g int32
	for {
		select {
		case err := <-errs:
			if err == nil && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("simulator: %w", err)
		case <-time.After(5 * time.Millisecond):
		}
		if nt, ng := tcs.Answered.Load(), rec.Answered.Load(); nt != t || ng != g {
			t, g = nt, ng
			fmt.Printf(answeredFormat, t, g)
		}
	}
}

// simulators is the parent's handle on the child.
type simulators struct {
	p        *proc
	stopping atomic.Bool
}

// startSimulators starts the child and waits until it consumes both command queues, so a
// side's time never includes the simulators' start. If the child dies before it is stopped,
// fail is called with the reason (the run cannot finish without its producers).
func startSimulators(ctx context.Context, h *harness, fail context.CancelCauseFunc) (*simulators, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, err := startProc("simulators", filepath.Join(h.tmp, "simulators.log"), os.Environ(), exe, simulatorsCommand,
		"-amqp-url", h.cfg.Reval.AMQPURL, "-sqs-endpoint", h.cfg.Reval.SQSEndpoint, "-sqs-region", h.cfg.Reval.SQSRegion,
		"-queue-url", h.queueURL, "-doctors", fmt.Sprint(h.o.doctors), "-gmc-only", fmt.Sprint(h.o.gmcOnly),
		"-seed", fmt.Sprint(h.o.seed))
	if err != nil {
		return nil, err
	}
	s := &simulators{p: p}
	go func() {
		<-p.done
		if !s.stopping.Load() {
			fail(fmt.Errorf("the simulators exited (%v); log tail:\n%s", p.waitErr, p.logTail(20)))
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; {
		n, err := consumers(h.cfg.Reval.AMQPURL, reval.SyncStartQueue, reval.GMCSyncStartQueue)
		if err == nil && n[0] > 0 && n[1] > 0 {
			return s, nil
		}
		if time.Now().After(deadline) || p.exited() {
			s.stop()
			return nil, fmt.Errorf("the simulators do not consume %s and %s (%v); log tail:\n%s",
				reval.SyncStartQueue, reval.GMCSyncStartQueue, err, p.logTail(20))
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *simulators) stop() {
	s.stopping.Store(true)
	s.p.stop(10 * time.Second)
}

// answered is what the child printed last.
func (s *simulators) answered() (tcs, gmc int) {
	b, _ := os.ReadFile(s.p.logPath)
	for _, l := range strings.Split(string(b), "\n") {
		_, _ = fmt.Sscanf(l, strings.TrimSuffix(answeredFormat, "\n"), &tcs, &gmc)
	}
	return tcs, gmc
}

// check makes sure each simulator answered exactly the commands of the sides so far: a
// command from anyone else would have mixed foreign doctors into the figures.
func (s *simulators) check(sides int) error {
	// A simulator counts its answer just after sending the syncEnd, which the consumer may
	// already have seen.
	t, g := s.answered()
	for deadline := time.Now().Add(5 * time.Second); (t < sides || g < sides) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		t, g = s.answered()
	}
	if t != sides || g != sides {
		return fmt.Errorf("the simulators answered %d syncStart and %d gmcSyncStart, want %d each: "+
			"another process published on reval.exchange during the run", t, g, sides)
	}
	return nil
}

// consumers counts the consumers of each queue.
func consumers(url string, queues ...string) ([]int, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	out := make([]int, len(queues))
	for i, name := range queues {
		ch, err := conn.Channel()
		if err != nil {
			return nil, err
		}
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		ch.Close()
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", name, err)
		}
		out[i] = q.Consumers
	}
	return out, nil
}
