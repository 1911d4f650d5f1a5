// Command reval is the revalidation sync benchmark (issue 4): it drains N generated doctors
// through the real RabbitMQ queue and SQS queue twice in one run, first with a bare client
// (publish the command, consume and ack, receive and delete: nothing else), then with
// opsflow's RevalidationSync workflow on the worker binary, and reports the ratio
// opsflow / raw, the ingest throughput, the worker's peak memory and the alias outage seen
// by a reader polling current_connections every 50 ms. It is a program and not a timed test
// because its figures depend on the machine: it reports them, it asserts nothing but
// correctness (exact counts).
//
// Run it with `make bench` (BENCH_DOCTORS=20000 for a quick run) after `make stack-up`.
// Elasticsearch is estest, the test-only in-memory stand-in, unless OPSFLOW_ES_URL is set.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/workflows"
)

// Goals of issue 4.
const (
	goalRatio      = 1.3
	goalDocsPerSec = 11000
)

type options struct {
	doctors, gmcOnly, batch, liveDocs int
	receivers                         int
	seed                              uint64
	timeout, idle                     time.Duration
	results                           string
	keep                              bool
}

func main() {
	var o options
	flag.IntVar(&o.doctors, "doctors", 300000, "doctors TCS sends (and GMC knows)")
	flag.IntVar(&o.gmcOnly, "gmc-only", 0, "further doctors only GMC knows")
	flag.Uint64Var(&o.seed, "seed", 1, "population seed of the simulators")
	flag.IntVar(&o.batch, "batch", 1000, "documents per bulk request (OPSFLOW_REVAL_BATCH) and the raw consumer's batch")
	// The sync's IngestGMC runs 16 receivers (activities.SyncIngestActivities.Receivers):
	// the floor polls SQS as concurrently, or the ratio would credit opsflow with concurrency.
	flag.IntVar(&o.receivers, "raw-receivers", 16, "concurrent SQS receivers of the raw client (as many as the sync's)")
	flag.IntVar(&o.liveDocs, "live-docs", 1000, "documents of the live index that serves during the sync")
	flag.DurationVar(&o.timeout, "timeout", time.Hour, "give up after this long")
	flag.DurationVar(&o.idle, "idle-timeout", 2*time.Minute, "fail when a producer stays silent this long")
	flag.StringVar(&o.results, "results", "", "directory for the result file (default bench/results of the module)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, logs) even on success")
	flag.Parse()
	if o.doctors < 1 || o.gmcOnly < 0 || o.batch < 1 || o.batch > 10000 || o.receivers < 1 {
		fmt.Fprintln(os.Stderr, "bench: -doctors and -raw-receivers must be at least 1, -gmc-only at least 0, -batch within 1..10000")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("bench: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(o options) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.results == "" {
		o.results = filepath.Join(root, "bench", "results")
	}
	stamp := time.Now()
	env := fmt.Sprintf("bench-%d", stamp.Unix())
	cfg, err := loadConfig(env, "opsflow-bench-"+env)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "opsflow-bench-reval-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil || o.keep {
			say("binaries and logs kept in %s", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()

	unlock, err := lockRevalQueues()
	if err != nil {
		return err
	}
	defer unlock()
	stamp = time.Now() // the measurement starts now, not when the lock was first asked for

	// Build first, so compiling never competes with a measured leg for the CPUs.
	esURL := cfg.Reval.ESURL
	esTarget := "real Elasticsearch at " + esURL + " (OPSFLOW_ES_URL)"
	bins := map[string]string{"opsflow-worker": "./worker"}
	if esURL == "" {
		bins["estest-server"] = "./internal/esclient/estest/estest-server"
	}
	for name, pkg := range bins {
		say("building %s", pkg)
		cmd := exec.CommandContext(ctx, goTool(), "build", "-o", filepath.Join(tmp, name), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}

	// RabbitMQ: the topology, and nobody else serving the command queues (a `make demo`
	// revalsim-peers would answer syncStart with its own doctors and spoil both legs).
	simConn, err := amqpx.Dial(cfg.Reval.AMQPURL)
	if err != nil {
		return err
	}
	defer simConn.Close()
	if err := simConn.Declare(amqpx.RevalTopology()); err != nil {
		return err
	}
	if err := checkNoConsumers(cfg.Reval.AMQPURL); err != nil {
		return err
	}
	// Purged before the simulators start: a command left over by an interrupted test
	// would otherwise be answered at once, with doctors no leg asked for.
	for _, b := range amqpx.RevalTopology().Bindings {
		if _, err := simConn.Purge(b.Queue); err != nil {
			return fmt.Errorf("purge %s: %w", b.Queue, err)
		}
	}
	rawConn, err := amqpx.Dial(cfg.Reval.AMQPURL)
	if err != nil {
		return err
	}
	defer rawConn.Close()

	// SQS: the environment's GMC queue, the same one both legs drain; deleted at the end.
	sqs, err := sqsclient.New(ctx, cfg.Reval.SQSEndpoint, cfg.Reval.SQSRegion)
	if err != nil {
		return err
	}
	queueURL, err := sqs.EnsureQueue(ctx, workflows.GMCSyncQueue(env))
	if err != nil {
		return err
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		if derr := sqs.DeleteQueue(dctx, queueURL); derr != nil {
			say("could not delete SQS queue %s: %v", queueURL, derr)
		}
	}()
	if err := sqs.SetVisibilityTimeout(ctx, queueURL, cfg.Reval.SQSVisibility); err != nil {
		return err
	}

	// The producers, in this process for both legs.
	simCtx, stopSims := context.WithCancel(ctx)
	simErr := make(chan error, 2)
	defer stopSims()
	gmcTotal := o.doctors + o.gmcOnly
	tcs := &revalsim.TCS{Conn: simConn, Doctors: o.doctors, Seed: o.seed}
	// MaxBacklog keeps the GMC queue below local-aws-sqs's bogus limit (see monitor.go), for
	// both legs alike; it paces the producer as the real service's paging does.
	rec := &revalsim.Recommendation{AMQP: simConn, SQS: sqs, QueueURL: queueURL, Doctors: o.doctors, GMCOnly: o.gmcOnly,
		Seed: o.seed, MaxBacklog: 50000}
	for _, sim := range []interface{ Run(context.Context) error }{tcs, rec} {
		go func() {
			if err := sim.Run(simCtx); err != nil {
				simErr <- err
				cancel() // a producer that failed cannot finish either leg
			}
		}()
	}
	// answered checks that each simulator answered exactly the commands of our legs: a
	// command from anyone else would have mixed foreign doctors into the figures.
	answered := func(legs int32) error {
		// A simulator counts its answer just after sending the syncEnd, which the
		// consumer may already have seen.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if tcs.Answered.Load() >= legs && rec.Answered.Load() >= legs {
				break
			}
		}
		if t, r := tcs.Answered.Load(), rec.Answered.Load(); t != legs || r != legs {
			return fmt.Errorf("the simulators answered %d syncStart and %d gmcSyncStart, want %d each: "+
				"another process published on reval.exchange during the run", t, r, legs)
		}
		return nil
	}
	simFailure := func(err error) error {
		select {
		case serr := <-simErr:
			return fmt.Errorf("simulator: %w (then: %v)", serr, err)
		default:
			return err
		}
	}

	mon := newMonitor(cfg.Reval.AMQPURL, sqs, queueURL)
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	go mon.run(monCtx)

	m := machine()
	say("%d doctors (+%d GMC only), seed %d, batch %d, environment %s, %s", o.doctors, o.gmcOnly, o.seed, o.batch, env, m)
	say("raw drain: bare client on the same queues")
	loadRaw := loadAvg()
	mon.take()
	cpuBefore := sampleCPU(tmp)
	raw, err := rawDrain(ctx, rawConn, sqs, queueURL, o.doctors, gmcTotal, o.batch, o.receivers, o.idle)
	if err != nil {
		return simFailure(explainSQS(err))
	}
	raw.Backlog = mon.take()
	if err := answered(1); err != nil {
		return err
	}
	raw.CPU = sampleCPU(tmp).since(cpuBefore)
	say("raw drain: TCS %.1f s, GMC %.1f s, total %.1f s", raw.TCSSeconds, raw.GMCSeconds, raw.TotalSeconds)

	ops, err := runOpsflow(ctx, o, cfg, tmp, env, mon)
	if err != nil {
		return simFailure(err)
	}
	ops.Backlog = mon.take()
	if err := answered(2); err != nil {
		return err
	}
	if ops.esTarget != "" {
		esTarget = ops.esTarget
	}
	say("opsflow: total %.1f s", ops.TotalSeconds)

	self, _ := vmHWM("self")
	rep := report{o: o, env: env, raw: raw, ops: ops, esTarget: esTarget, machine: m, benchRSS: self,
		loadRaw: loadRaw, when: stamp}
	text := rep.markdown()
	fmt.Println()
	fmt.Println(text)
	if err := os.MkdirAll(o.results, 0o755); err != nil {
		return err
	}
	out := filepath.Join(o.results, "reval-"+stamp.Format("20060102-150405")+".md")
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		return err
	}
	say("result written to %s", out)
	return nil
}

// opsflowResult is what the sync did and cost.
type opsflowResult struct {
	TotalSeconds   float64
	Result         workflows.RevalidationSyncResult
	Phases         []phase
	WorkerRSS      int64
	ESRSS          int64 // estest-server's peak; 0 with a real Elasticsearch
	Reader         *aliasReader
	Live           string // the live index the bench created, "" if it found one
	Backlog        backlog
	CPU            cpuUse // from before the workflow starts to its result
	esTarget, load string
	workerLog      string
}

// runOpsflow runs the sync as an operator does: estest-server (unless OPSFLOW_ES_URL), the
// worker binary on its own task queue, the workflow started through the codec, while a
// reader polls current_connections.
func runOpsflow(ctx context.Context, o options, cfg config.Config, tmp, env string, mon *monitor) (res opsflowResult, err error) {
	res.load = loadAvg()
	esURL := cfg.Reval.ESURL
	var esProc *proc
	if esURL == "" {
		addr, err := freeAddr()
		if err != nil {
			return res, err
		}
		esProc, err = startProc("estest-server", filepath.Join(tmp, "estest-server.log"), os.Environ(),
			filepath.Join(tmp, "estest-server"), "--addr", addr)
		if err != nil {
			return res, err
		}
		defer esProc.stop(10 * time.Second)
		esURL = "http://" + addr
		res.esTarget = "estest-server (TEST-ONLY in-memory ES 7 REST subset) at " + esURL + "; OPSFLOW_ES_URL not set"
	}
	es, err := esclient.New(esURL)
	if err != nil {
		return res, err
	}
	if err := waitForES(ctx, es, esProc, 30*time.Second); err != nil {
		return res, err
	}
	say("Elasticsearch: %s", esTargetOr(res.esTarget, esURL))
	if res.Live, err = seedLiveIndex(ctx, es, o.liveDocs, o.seed); err != nil {
		return res, err
	}

	metricsAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	workerEnv := append(os.Environ(),
		"OPSFLOW_ES_URL="+esURL,
		"OPSFLOW_TASK_QUEUE="+cfg.Temporal.TaskQueue,
		"OPSFLOW_ENVIRONMENT="+env,
		"OPSFLOW_METRICS_ADDR="+metricsAddr,
		"OPSFLOW_WORKER_SITES=none", // only the central worker: the sync runs there
		fmt.Sprintf("OPSFLOW_REVAL_BATCH=%d", o.batch),
	)
	res.workerLog = filepath.Join(tmp, "worker.log")
	worker, err := startProc("worker", res.workerLog, workerEnv, filepath.Join(tmp, "opsflow-worker"))
	if err != nil {
		return res, err
	}
	defer worker.stop(45 * time.Second)
	if err := worker.waitForLog(ctx, "revalidation sync registered", time.Minute); err != nil {
		return res, err
	}
	if err := worker.waitForLog(ctx, "worker started", time.Minute); err != nil {
		return res, err
	}

	c, err := temporalx.Dial(cfg, temporalx.NewLogger("warn"))
	if err != nil {
		return res, err
	}
	defer c.Close()

	res.Reader = &aliasReader{}
	readCtx, stopReader := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); res.Reader.run(readCtx, es) }()
	defer func() { stopReader(); <-readerDone }()

	id := workflows.RevalidationSyncWorkflowID(env)
	say("opsflow: RevalidationSync %s on task queue %s (worker log %s)", id, cfg.Temporal.TaskQueue, res.workerLog)
	cpuBefore := sampleCPU(tmp)
	began := time.Now()
	wf, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 o.timeout,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("RevalidationSync"),
			workflows.EnvironmentKey.ValueSet(env)),
	}, workflows.RevalidationSync, workflows.RevalidationSyncInput{Environment: env, IdleTimeout: o.idle.String()})
	if err != nil {
		return res, fmt.Errorf("start RevalidationSync: %w", err)
	}
	got := make(chan error, 1)
	go func() { got <- wf.Get(ctx, &res.Result) }()
	select {
	case err = <-got:
	case err = <-mon.stuck: // the activity would retry for many minutes in vain
	}
	if err != nil {
		// Never leave a run behind that waits for a worker that is about to stop.
		tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.TerminateWorkflow(tctx, id, wf.GetRunID(), "benchmark stopped: "+err.Error())
		tcancel()
		return res, fmt.Errorf("RevalidationSync: %w; worker log tail:\n%s", err, worker.logTail(30))
	}
	res.TotalSeconds = time.Since(began).Seconds()
	res.CPU = sampleCPU(tmp).since(cpuBefore) // the worker and estest-server still run
	stopReader()
	<-readerDone

	// Peaks before stopping: /proc/<pid> is gone afterwards.
	if res.WorkerRSS, err = worker.peakRSS(); err != nil {
		return res, err
	}
	if esProc != nil {
		if res.ESRSS, err = esProc.peakRSS(); err != nil {
			return res, err
		}
	}
	res.Phases, err = phases(ctx, c, id, wf.GetRunID())
	if err != nil {
		say("could not read the workflow history for the phase times: %v", err)
	}
	if err := checkCounts(res.Result, o); err != nil {
		return res, err
	}
	return res, nil
}

func esTargetOr(target, url string) string {
	if target != "" {
		return target
	}
	return "real Elasticsearch at " + url + " (OPSFLOW_ES_URL)"
}

// checkCounts makes a fast but wrong sync fail the benchmark: the figures count only when
// every doctor arrived exactly once.
func checkCounts(r workflows.RevalidationSyncResult, o options) error {
	var problems []string
	if r.Outcome != workflows.OutcomeSucceeded {
		problems = append(problems, "outcome "+r.Outcome)
	}
	if r.Connections.Docs != int64(o.doctors) {
		problems = append(problems, fmt.Sprintf("connections docs %d, want %d", r.Connections.Docs, o.doctors))
	}
	if r.GMC.Docs != int64(o.doctors+o.gmcOnly) {
		problems = append(problems, fmt.Sprintf("GMC docs %d, want %d", r.GMC.Docs, o.doctors+o.gmcOnly))
	}
	if r.Counts.Total != int64(o.doctors+o.gmcOnly) {
		problems = append(problems, fmt.Sprintf("index total %d, want %d", r.Counts.Total, o.doctors+o.gmcOnly))
	}
	if len(problems) > 0 {
		return fmt.Errorf("RevalidationSync finished with wrong counts: %s", strings.Join(problems, "; "))
	}
	return nil
}

// phase is one activity of the run, from scheduled to completed (queueing included: that
// is time the run spent on the step).
type phase struct {
	Name    string
	Seconds float64
}

// phases reads the activity times from the run's history, so the report shows where the
// time beyond the two ingests went without instrumenting the workflow.
func phases(ctx context.Context, c client.Client, id, runID string) ([]phase, error) {
	type sched struct {
		name string
		at   time.Time
	}
	scheduled := map[int64]sched{}
	var out []phase
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first, last time.Time
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return out, err
		}
		t := ev.GetEventTime().AsTime()
		if first.IsZero() {
			first = t
		}
		last = t
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = sched{name: a.GetActivityType().GetName(), at: t}
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			if s, ok := scheduled[a.GetScheduledEventId()]; ok {
				out = append(out, phase{Name: s.name, Seconds: t.Sub(s.at).Seconds()})
			}
		}
	}
	if !first.IsZero() {
		sum := 0.0
		for _, p := range out {
			sum += p.Seconds
		}
		out = append(out, phase{Name: "between activities (workflow tasks)", Seconds: last.Sub(first).Seconds() - sum})
	}
	return out, nil
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
// reval.queue.* names are fixed by the services, so a test draining them at the same time
// would steal the benchmark's messages and the benchmark a test's.
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
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	var busy []string
	for _, b := range amqpx.RevalTopology().Bindings {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		q, err := ch.QueueDeclarePassive(b.Queue, true, false, false, false, nil)
		ch.Close()
		if err != nil {
			return fmt.Errorf("inspect %s: %w", b.Queue, err)
		}
		if q.Consumers > 0 && !strings.Contains(b.Queue, "indexrebuild") {
			busy = append(busy, fmt.Sprintf("%s (%d consumers)", b.Queue, q.Consumers))
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

// goTool is the go command that builds the binaries: $GO as in the Makefile, else PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// machine describes the host: the figures only mean something next to it.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(rest), &kb)
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}

// loadAvg is the 1/5/15-minute load at the start of a leg: other work on the machine (a
// test run) slows a leg, and the report should say so.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
