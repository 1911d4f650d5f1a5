package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/temporalx"
)

// Roles of the processes whose CPU time and memory the report shows.
const (
	roleWorker   = "worker (opsflow-worker)"
	roleSearch   = "OpenSearch"
	roleSQS      = "ElasticMQ (SQS)"
	roleRabbit   = "RabbitMQ"
	roleTemporal = "Temporal dev server"
	roleSims     = "simulators (TCS + recommendation)"
)

// harness is what both sides share: the configuration, the servers, the simulators and the
// queue monitor. Its clean-ups run in reverse order on every exit path, Ctrl-C included.
type harness struct {
	o        options
	root     string
	tmp      string
	env      string
	stamp    time.Time
	cfg      config.Config
	eng      *engine
	amqp     *amqpx.Conn // the raw client's connection
	sqs      *sqsclient.Client
	queueURL string
	sims     *simulators
	mon      *monitor
	servers  map[string]int // role → pid of the stack's servers (0: not found on this machine)
	sides    int            // runs the simulators answered so far (warm-up included)
	cleanups []func()
}

func (h *harness) onClose(f func()) { h.cleanups = append(h.cleanups, f) }

func (h *harness) close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
}

// setup prepares everything before the first side; nothing it does is measured.
func (h *harness) setup(ctx context.Context, fail context.CancelCauseFunc) error {
	if err := h.prepare(ctx); err != nil {
		return err
	}
	if err := h.connectQueues(ctx); err != nil {
		return err
	}
	h.servers = map[string]int{
		roleSearch:   h.eng.pid,
		roleSQS:      listeningPID(loopbackPort(h.cfg.Reval.SQSEndpoint)),
		roleRabbit:   listeningPID(loopbackPort(h.cfg.Reval.AMQPURL)),
		roleTemporal: listeningPID(loopbackPort(h.cfg.Temporal.Address)),
	}
	sims, err := startSimulators(ctx, h, fail)
	if err != nil {
		return err
	}
	h.sims = sims
	h.onClose(sims.stop)
	h.mon = newMonitor(h.cfg.Reval.AMQPURL, h.sqs, h.queueURL, h.eng)
	monCtx, stopMon := context.WithCancel(ctx)
	h.onClose(stopMon)
	go h.mon.run(monCtx)
	return nil
}

// prepare reads the configuration, checks the search engine, takes the queue lock and builds
// the worker (first, so compiling never competes with a measured side for the CPUs).
func (h *harness) prepare(ctx context.Context) (err error) {
	if h.root, err = moduleRoot(); err != nil {
		return err
	}
	if h.o.results == "" {
		h.o.results = filepath.Join(h.root, "bench", "results")
	}
	h.env = fmt.Sprintf("bench-%d", time.Now().Unix())
	if h.cfg, err = loadConfig(h.env, "opsflow-bench-"+h.env); err != nil {
		return err
	}
	if h.eng, err = connectEngine(ctx, h.cfg.Reval.ESURL); err != nil {
		return err
	}
	if h.tmp, err = os.MkdirTemp("", "opsflow-bench-reval-"); err != nil {
		return err
	}
	unlock, err := lockRevalQueues()
	if err != nil {
		return err
	}
	h.onClose(unlock)
	h.stamp = time.Now() // the run starts now, not when the lock was first asked for
	say("building ./worker")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", filepath.Join(h.tmp, "opsflow-worker"), "./worker")
	cmd.Dir = h.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./worker: %w\n%s", err, out)
	}
	return nil
}

// connectQueues declares the RabbitMQ topology, refuses to run while someone else consumes
// the revalidation queues, empties them, and creates the run's own GMC queue on SQS (deleted
// at the end).
func (h *harness) connectQueues(ctx context.Context) error {
	conn, err := amqpx.Dial(h.cfg.Reval.AMQPURL)
	if err != nil {
		return err
	}
	h.amqp = conn
	h.onClose(func() { conn.Close() })
	if err := conn.Declare(reval.Topology()); err != nil {
		return err
	}
	if err := checkNoConsumers(h.cfg.Reval.AMQPURL); err != nil {
		return err
	}
	// Purged before the simulators start: a command left over by an interrupted test would
	// otherwise be answered at once, with doctors no side asked for.
	for _, b := range reval.Topology().Bindings {
		if _, err := conn.Purge(b.Queue); err != nil {
			return fmt.Errorf("purge %s: %w", b.Queue, err)
		}
	}
	if h.sqs, err = sqsclient.New(ctx, h.cfg.Reval.SQSEndpoint, h.cfg.Reval.SQSRegion); err != nil {
		return err
	}
	if h.queueURL, err = h.sqs.EnsureQueue(ctx, reval.GMCSyncQueue(h.env)); err != nil {
		return err
	}
	h.onClose(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		if derr := h.sqs.DeleteQueue(dctx, h.queueURL); derr != nil {
			say("could not delete SQS queue %s: %v", h.queueURL, derr)
		}
	})
	return h.sqs.SetVisibilityTimeout(ctx, h.queueURL, h.cfg.Reval.SQSVisibility)
}

// queuesEmpty makes sure the second side starts from empty queues: a message the first side
// left behind (a duplicate delivery) would be counted by the second.
func (h *harness) queuesEmpty(ctx context.Context) error {
	visible, inFlight, err := h.sqs.ApproximateCount(ctx, h.queueURL)
	if err != nil {
		return err
	}
	if visible+inFlight > 0 {
		say("SQS queue holds %d messages (%d in flight) after a side: purging it", visible+inFlight, inFlight)
		if err := h.sqs.Purge(ctx, h.queueURL); err != nil {
			return err
		}
	}
	return nil
}

// pids is role → pid of every process the CPU split names, the worker when it runs.
func (h *harness) pids(worker *proc) map[string]int {
	out := map[string]int{roleSims: h.sims.p.pid()}
	for k, v := range h.servers {
		out[k] = v
	}
	if worker != nil {
		out[roleWorker] = worker.pid()
	}
	return out
}

// loadConfig is the starter's configuration (stack environment, codec keys) with the
// benchmark's own environment and task queue, so nothing it starts meets another run.
func loadConfig(env, taskQueue string) (config.Config, error) {
	cfg := config.Default()
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		return cfg, err
	}
	cfg.Environment, cfg.Temporal.TaskQueue = env, taskQueue
	if err := cfg.Finish(); err != nil {
		return cfg, fmt.Errorf("%w\n(run `make stack-up` and use `make bench`, which sets the stack's OPSFLOW_* variables)", err)
	}
	slog.SetDefault(temporalx.NewLogger("warn"))
	return cfg, nil
}

// lockRevalQueues takes the lock the tests take (internal/testsupport/revallock): the
// reval.queue.* names and the masterdoctorindex* indices are fixed by the services, so a test
// using them at the same time would steal the benchmark's messages and the benchmark a test's.
func lockRevalQueues() (func(), error) {
	path := filepath.Join(os.TempDir(), "opsflow-reval-queues.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		say("waiting for %s: a test is using the reval queues", path)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// checkNoConsumers refuses to run while another process consumes the command or data
// queues: its answers or its consumption would be counted as ours.
func checkNoConsumers(url string) error {
	var names []string
	for _, b := range reval.Topology().Bindings {
		if !strings.Contains(b.Queue, "indexrebuild") {
			names = append(names, b.Queue)
		}
	}
	n, err := consumers(url, names...)
	if err != nil {
		return err
	}
	var busy []string
	for i, c := range n {
		if c > 0 {
			busy = append(busy, fmt.Sprintf("%s (%d consumers)", names[i], c))
		}
	}
	if len(busy) > 0 {
		return fmt.Errorf("other processes consume %s: stop them first (a `make demo` worker or revalsim-peers?)",
			strings.Join(busy, ", "))
	}
	return nil
}

// moduleRoot is the directory of opsflow's go.mod, so the program runs from any directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/opsflow/opsflow\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the opsflow checkout (no go.mod of github.com/opsflow/opsflow above the current directory)")
		}
		dir = parent
	}
}

// goTool is the go command that builds the worker: $GO as in the Makefile, else PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
