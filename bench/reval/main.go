// Command reval is the revalidation sync benchmark (issue 4): it drains N generated doctors
// through the real RabbitMQ queue and SQS queue into the real search engine twice in one run,
// first with a bare Go client that does the same job with nothing around it (raw.go), then
// with opsflow's RevalidationSync workflow on the worker binary (opsflow.go), each side
// starting from the same empty engine. It reports the ratio opsflow / raw, the docs/s of each
// ingest, the worker's peak memory, the search engine's JVM heap and memory, where the CPU
// went, and the alias outage seen by a reader polling current_connections every 50 ms. It is
// a program and not a timed test because its figures depend on the machine: it reports them,
// it asserts nothing but correctness (exact counts).
//
// Run it with `make bench` (BENCH_DOCTORS=20000 for a quick run) on the dev stack: OpenSearch
// at OPSFLOW_ES_URL (required), ElasticMQ at OPSFLOW_SQS_ENDPOINT, RabbitMQ, Temporal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Goals of issue 4.
const (
	goalRatio      = 1.15
	goalDocsPerSec = 11000
)

type options struct {
	doctors, gmcOnly, batch, liveDocs int
	receivers                         int
	seed                              uint64
	timeout, idle                     time.Duration
	results                           string
	keep, warmup                      bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == simulatorsCommand {
		if err := runSimulators(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench simulators:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.doctors, "doctors", 300000, "doctors TCS sends (and GMC knows)")
	flag.IntVar(&o.gmcOnly, "gmc-only", 0, "further doctors only GMC knows")
	flag.Uint64Var(&o.seed, "seed", 1, "population seed of the simulators")
	flag.IntVar(&o.batch, "batch", 1000, "documents per bulk request (OPSFLOW_REVAL_BATCH), the same for the raw client")
	// The sync's IngestGMC runs 16 receivers (activities.SQSActivities.Receivers):
	// the anchor polls SQS as concurrently, or the ratio would credit opsflow with concurrency.
	flag.IntVar(&o.receivers, "raw-receivers", 16, "concurrent SQS receivers of the raw client (as many as the sync's)")
	flag.IntVar(&o.liveDocs, "live-docs", 1000, "documents of the live index that serves during the sync")
	flag.DurationVar(&o.timeout, "timeout", time.Hour, "give up after this long")
	flag.DurationVar(&o.idle, "idle-timeout", 2*time.Minute, "fail when a producer stays silent this long")
	flag.StringVar(&o.results, "results", "", "directory for the result file (default bench/results of the module)")
	flag.BoolVar(&o.warmup, "warmup", true, "run the raw client once, unmeasured, before the two sides (warms the JVMs of OpenSearch and ElasticMQ)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (worker binary, logs) even on success")
	flag.Parse()
	if o.doctors < 1 || o.gmcOnly < 0 || o.batch < 1 || o.batch > 10000 || o.receivers < 1 || o.liveDocs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -doctors, -live-docs and -raw-receivers must be at least 1, -gmc-only at least 0, -batch within 1..10000")
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
	ctx, fail := context.WithCancelCause(ctx) // a dead simulator ends the run with its reason
	defer fail(nil)
	h := &harness{o: o}
	defer func() {
		h.close()
		if h.tmp == "" {
			return
		}
		if err != nil || o.keep {
			say("worker binary and logs kept in %s", h.tmp)
			return
		}
		_ = os.RemoveAll(h.tmp)
	}()
	defer func() { err = withCause(ctx, err) }()
	if err := h.setup(ctx, fail); err != nil {
		return err
	}
	// The benchmark's builds must not serve the dev stack afterwards: the demo's next sync
	// would be refused as 300 000 doctors shrinking to 5 000.
	defer func() {
		if h.eng != nil && !o.keep {
			wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
			defer wcancel()
			if werr := h.eng.wipe(wctx); werr != nil {
				say("could not delete the benchmark's indices: %v", werr)
			}
		}
	}()
	say("%d doctors (+%d GMC only), seed %d, batch %d, environment %s; %s", o.doctors, o.gmcOnly, o.seed, o.batch, h.env, machine())
	say("search engine: %s", h.eng)

	raw, err := h.rawSide(ctx)
	if err != nil {
		return err
	}
	ops, err := h.opsflowSide(ctx)
	if err != nil {
		return err
	}
	self, _ := vmHWM("self")
	rep := report{o: h.o, h: h, raw: raw, ops: ops, machine: machine(), benchRSS: self}
	return rep.write()
}

// withCause adds the reason the run was cancelled (a simulator died) to the error it caused.
func withCause(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if err == nil || cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w\n(because %v)", err, cause)
}

// side is what one side cost, whatever it ran.
type side struct {
	Seconds float64
	Load    string // load average when it began
	Peaks   peaks
	Engine  engineUse
	CPU     cpuUse
}

type sideStart struct {
	began time.Time
	load  string
	cpu   cpuSample
}

// beginSide starts the measurements of a side (the worker's too when it runs).
func (h *harness) beginSide(worker *proc) sideStart {
	h.mon.take()
	return sideStart{began: time.Now(), load: loadAvg(), cpu: sampleCPU(h.pids(worker))}
}

// endSide completes s with what the side cost; call it before stopping the worker.
func (h *harness) endSide(ctx context.Context, st sideStart, worker *proc, s *side) {
	s.CPU = sampleCPU(h.pids(worker)).since(st.cpu)
	s.Load = st.load
	s.Peaks = h.mon.take()
	s.Engine.HeapPeak, s.Engine.RSSPeak = s.Peaks.heapMax, s.Peaks.rssMax
	if hp, err := h.eng.jvmHeap(ctx); err == nil {
		s.Engine.HeapEnd, s.Engine.HeapMax = hp.Used, hp.Max
		s.Engine.HeapPeak = max(s.Engine.HeapPeak, hp.Used)
	}
}

// rawSide runs the bare client on a wiped engine, after an unmeasured warm-up run: the
// stack's OpenSearch and ElasticMQ are JVMs, and whichever side ran first on a freshly
// started one would pay its JIT compilation (the first 20 000-doctor raw side after the
// stack started took 35.6 s here, the next ones 4 to 6 s).
func (h *harness) rawSide(ctx context.Context) (rawResult, error) {
	c := &rawClient{conn: h.amqp, es: h.eng.es, sqs: h.sqs, queueURL: h.queueURL, batch: h.o.batch,
		receivers: h.o.receivers, idle: h.o.idle}
	if h.o.warmup {
		if err := h.eng.wipe(ctx); err != nil {
			return rawResult{}, err
		}
		say("warm-up: the raw client once, unmeasured")
		if _, err := c.run(ctx, h.o.doctors, h.o.doctors+h.o.gmcOnly); err != nil {
			return rawResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if err := h.sideDone(ctx); err != nil {
			return rawResult{}, err
		}
	}
	if err := h.eng.wipe(ctx); err != nil {
		return rawResult{}, err
	}
	say("raw: bare client on the same queues and search engine")
	st := h.beginSide(nil)
	res, err := c.run(ctx, h.o.doctors, h.o.doctors+h.o.gmcOnly)
	if err != nil {
		return res, err
	}
	h.endSide(ctx, st, nil, &res.side)
	say("raw: TCS leg %.1f s, GMC leg %.1f s, total %.1f s", res.TCSSeconds, res.GMCSeconds, res.Seconds)
	return res, h.sideDone(ctx)
}

// sideDone checks the simulators answered exactly one more command pair, and that the
// queues are empty for the next side.
func (h *harness) sideDone(ctx context.Context) error {
	h.sides++
	if err := h.sims.check(h.sides); err != nil {
		return err
	}
	return h.queuesEmpty(ctx)
}

// opsflowSide runs RevalidationSync on a wiped engine.
func (h *harness) opsflowSide(ctx context.Context) (opsflowResult, error) {
	if err := h.eng.wipe(ctx); err != nil {
		return opsflowResult{}, err
	}
	ops, err := h.runOpsflow(ctx)
	if err != nil {
		return ops, err
	}
	say("opsflow: total %.1f s", ops.Seconds)
	return ops, h.sideDone(ctx)
}

// write prints the report and saves it as bench/results/reval-<yyyymmdd-hhmmss>.md.
func (r report) write() error {
	text := r.markdown()
	fmt.Println()
	fmt.Println(text)
	if err := os.MkdirAll(r.o.results, 0o755); err != nil {
		return err
	}
	out := filepath.Join(r.o.results, "reval-"+r.h.stamp.Format("20060102-150405")+".md")
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		return err
	}
	say("result written to %s", out)
	return nil
}
