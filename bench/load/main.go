// Command load is opsflow's load benchmark (issue 13, `make bench-load`): it runs four
// scenarios on the dev stack, each against a deployment of its own (environment, task queue,
// buckets, queues, durable area, schedules) served by its own worker process built from ./worker,
// and records figures, not goals:
//
//	packages  -packages small sample packages imported concurrently (PackageImport each, started
//	          at once, or by one FilelockScan with -import-via scan), until every one is READY;
//	scan      one FilelockScan, triggered through its schedule, over -objects manifests under the
//	          scan's prefix (most of them packages already imported, some noise, -scan-new new
//	          ones): its history bounded by continue-as-new;
//	reval     the revalidation sync at -doctors doctors: bench/reval run as it is (its own report,
//	          with the worker's peak RSS), plus the sync's history size read from the server;
//	bridge    -archives Bridge archives uploaded and notified, the notification poll triggered,
//	          every BridgeArchiveToJSON run waited for, then one BridgeParquetScan; the Parquet
//	          tables read back by DuckDB: every record converted once.
//
// For each it reports the wall time, the worker's peak RSS (VmHWM of its process), the CPU of the
// worker and of the stack's servers, and the Temporal history sizes (events and bytes) of the
// runs by workflow type, from the server's visibility store. The report is printed and written
// to bench/results/load-<scenarios>-<yyyymmdd-hhmmss>.md. It checks correctness (every run
// completed, every package READY, every record once) and nothing else: it is a program, not a
// timed test, and its figures depend on the machine and on what else runs on it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

type options struct {
	scenarios   []string
	packages    int
	packageKiB  int
	importVia   string
	objects     int
	scanNew     int
	scanNoise   float64
	scanBatch   int
	doctors     int
	revalFlags  string
	archives    int
	bridgeDays  int
	bridgeBatch int
	parallel    int
	temporal    string
	timeout     time.Duration
	dir         string
	results     string
	note        string
	keep        bool
}

var allScenarios = []string{"packages", "scan", "reval", "bridge"}

func main() {
	var o options
	scenarios := flag.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run, in this order: "+strings.Join(allScenarios, ", "))
	flag.IntVar(&o.packages, "packages", 1000, "packages: sample packages imported concurrently")
	flag.IntVar(&o.packageKiB, "package-kib", 4, "packages and scan: KiB of each package's read")
	flag.StringVar(&o.importVia, "import-via", "start", "packages: start (one PackageImport per package, all started at once) or scan (one FilelockScan)")
	flag.IntVar(&o.objects, "objects", 100000, "scan: objects under the scan's prefix (manifests/)")
	flag.IntVar(&o.scanNew, "scan-new", 20, "scan: how many of them are new packages the scan imports")
	flag.Float64Var(&o.scanNoise, "scan-noise", 0.05, "scan: share of keys naming no package (refused by the listing); the rest are packages already imported")
	flag.IntVar(&o.scanBatch, "scan-batch", 200, "scans' batchSize (the schedule's; 0: the workflow's default of 25, at most 200)")
	flag.IntVar(&o.doctors, "doctors", 300000, "reval: doctors of the revalidation sync (bench/reval -doctors)")
	flag.StringVar(&o.revalFlags, "reval-flags", "", "reval: further flags of bench/reval, e.g. \"-warmup=false\"")
	flag.IntVar(&o.archives, "archives", 1000, "bridge: Bridge archives")
	flag.IntVar(&o.bridgeDays, "bridge-days", 10, "bridge: days the archives' upload dates spread over (partitions per dataset)")
	flag.IntVar(&o.bridgeBatch, "bridge-batch", 0, "bridge: the notification poll's messages per drain (0: its default of 100)")
	flag.IntVar(&o.parallel, "parallel", 32, "PUTs and workflow starts in flight while generating")
	flag.StringVar(&o.temporal, "temporal", "private", "private: a Temporal dev server of the benchmark's own (the stack's binary, SQLite file); stack: the stack's shared server")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "longest wait for a scenario's runs")
	flag.StringVar(&o.dir, "dir", defaultDir(), "scratch directory (durable areas, logs)")
	flag.StringVar(&o.results, "results", "", "directory of the Markdown report (default bench/results of the module)")
	flag.StringVar(&o.note, "note", "", "a sentence for the report, e.g. what else ran on the machine")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch directories and buckets")
	flag.Parse()
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			fmt.Fprintf(os.Stderr, "bench/load: unknown scenario %q (known: %s)\n", s, strings.Join(allScenarios, ", "))
			os.Exit(2)
		}
		o.scenarios = append(o.scenarios, s)
	}
	if len(o.scenarios) == 0 || o.packages < 1 || o.packageKiB < 1 || o.objects < 1 || o.scanNew < 0 || o.scanNew > o.objects ||
		o.scanNoise < 0 || o.scanNoise >= 1 || o.scanBatch < 0 || o.scanBatch > 200 || o.doctors < 1 || o.archives < 1 ||
		o.bridgeDays < 1 || o.bridgeDays > 28 || o.parallel < 1 || (o.importVia != "start" && o.importVia != "scan") ||
		(o.temporal != "private" && o.temporal != "stack") {
		fmt.Fprintln(os.Stderr, "bench/load: check the flags (go run ./bench/load -h): sizes at least 1, -scan-new at most -objects, "+
			"-scan-noise in [0, 1), -scan-batch 0..200, -bridge-days 1..28, -import-via start or scan, -temporal private or stack")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/load:", err)
		os.Exit(1)
	}
}

// defaultDir is under the stack's directory when there is one (the disk of its durable area).
func defaultDir() string {
	if d := os.Getenv("OPSFLOW_STACK_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

func say(format string, args ...any) {
	fmt.Printf("bench/load: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h, err := newHarness(ctx, o)
	if err != nil {
		return err
	}
	defer h.close()
	if h.o.results == "" {
		h.o.results = filepath.Join(h.root, "bench", "results")
	}
	scenario := map[string]func(context.Context) (*result, error){
		"packages": h.packagesScenario, "scan": h.scanScenario, "reval": h.revalScenario, "bridge": h.bridgeScenario,
	}
	var results []*result
	for _, s := range o.scenarios {
		say("scenario %s (load average %s)", s, loadAverage())
		sctx, cancel := context.WithTimeout(ctx, o.timeout+15*time.Minute)
		r, err := scenario[s](sctx)
		cancel()
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s, err)
		}
		say("scenario %s: %.1f s, worker peak RSS %s", s, r.wall, mib(r.usage.workerPeakKiB))
		results = append(results, r)
	}
	return h.write(results, command())
}

// command is how this run was started, for the report: the flags given (-note aside: the
// report prints it below), quoted for a shell where needed.
func command() string {
	parts := []string{"go run ./bench/load"}
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "note" {
			return
		}
		v := f.Value.String()
		if v == "" || strings.ContainsAny(v, " \t'\"$`\\*?;&|<>()") {
			v = "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		}
		parts = append(parts, "-"+f.Name+"="+v)
	})
	return strings.Join(parts, " ")
}
