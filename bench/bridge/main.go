// Command bridge is the Bridge downstream's JSON → Parquet benchmark (issue 11, `make
// bench-bridge`): it generates -gib GiB of NDJSON as stage 1 writes it (two datasets of
// MobileToolbox-like records with nested arrays: motion records with arrays of sensor samples,
// taskData with steps holding nested arrays; generate.go) and, in the same run, converts it
//
//	(a) with DuckDB (the anchor), the venv python of scripts/stack (OPSFLOW_DUCKDB_PYTHON):
//	    COPY (SELECT * FROM read_json_auto(<dataset>)) TO <file> (FORMAT parquet) per dataset, at
//	    SET threads = -threads, on the local files (duckdb.go);
//	(b) with opsflow's stage 2 (opsflow.go): the Parquet activity of BridgeJSONToParquet on every
//	    partition of both datasets, relationalizing into root, child and grandchild tables, with
//	    GOMAXPROCS = -threads.
//
// It reports the rows/s of each side (rows are the input records: DuckDB writes one row per
// record, opsflow that row in the root table plus its children's rows, also reported), the
// ratio (goal ≥ 1x DuckDB's rows/s) and the peak RSS of each (DuckDB: the python child's
// ru_maxrss; opsflow: this process's VmHWM, reset before its side), writes
// bench/results/bridge-<UTC timestamp>.md and deletes its scratch files and bucket. With
// -cpuprofile the opsflow side's CPU profile is written there (go tool pprof). It is a
// program and not a timed test: its figures depend on the machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

type options struct {
	gib        float64
	threads    int
	parallel   int
	days       int
	seed       int64
	dir        string
	data       string
	results    string
	cpuprofile string
	memprofile string
	keep       bool
	skipDuckDB bool
	duckOrder  bool
	codec      string
}

func main() {
	var o options
	flag.Float64Var(&o.gib, "gib", 1, "GiB of NDJSON to generate (both datasets together)")
	flag.IntVar(&o.threads, "threads", runtime.NumCPU(), "threads of each side: DuckDB's SET threads and opsflow's GOMAXPROCS")
	flag.IntVar(&o.parallel, "parallel", 4, "partitions converted at once on the opsflow side (BridgeJSONToParquet's default)")
	flag.StringVar(&o.codec, "compression", "", "the opsflow side's Parquet compression (BridgeParquetActivities.Compression; \"\": its default)")
	flag.IntVar(&o.days, "days", 10, "days the records' upload dates spread over (partitions: 3 assessments x days)")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the generated data")
	flag.StringVar(&o.dir, "dir", defaultDir(), "scratch directory (the data and both sides' Parquet)")
	flag.StringVar(&o.data, "data", "", "reuse the NDJSON of an earlier -keep run (its scratch folder, same -gib -days -seed) instead of generating")
	flag.StringVar(&o.results, "results", "bench/results", "directory of the Markdown report")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write the opsflow side's CPU profile to this file")
	flag.StringVar(&o.memprofile, "memprofile", "", "write the allocations profile after the opsflow side to this file (and before it to FILE.base: go tool pprof -diff_base FILE.base FILE)")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch folder (data and Parquet) for another run's -data or a look")
	flag.BoolVar(&o.duckOrder, "duckdb-preserve-order", false, "DuckDB's preserve_insertion_order (default off: several times faster on many small files)")
	flag.BoolVar(&o.skipDuckDB, "skip-duckdb", false, "run the opsflow side only (profiling); no ratio")
	flag.Parse()
	if o.gib <= 0 || o.threads < 1 || o.parallel < 1 || o.days < 1 || o.days > 28 {
		fmt.Fprintln(os.Stderr, "bench/bridge: -gib must be positive, -threads and -parallel at least 1, -days 1 to 28")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/bridge:", err)
		os.Exit(1)
	}
}

// defaultDir is under the stack's directory when there is one, else the temporary directory.
func defaultDir() string {
	if d := os.Getenv("OPSFLOW_STACK_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

func say(format string, args ...any) {
	fmt.Printf("bench/bridge: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	python := os.Getenv("OPSFLOW_DUCKDB_PYTHON")
	if python == "" && !o.skipDuckDB {
		return fmt.Errorf("OPSFLOW_DUCKDB_PYTHON is not set: run it with make bench-bridge, or scripts/stack up (it installs DuckDB) and eval \"$(scripts/stack env)\" first")
	}
	loadBefore := loadAverage()
	ops, err := newOpsflowSide(ctx, o)
	if err != nil {
		return err
	}
	defer ops.cleanup()

	scratch := o.data
	if scratch == "" {
		if scratch, err = os.MkdirTemp(o.dir, "bench-bridge-"); err != nil {
			return err
		}
	}
	if !o.keep && o.data == "" {
		defer os.RemoveAll(scratch)
	} else {
		defer say("kept %s (run again with -data %s)", scratch, scratch)
	}
	if o.data == "" {
		say("generating %.2f GiB of NDJSON under %s", o.gib, scratch)
	} else {
		say("reusing the NDJSON under %s (give the -gib, -days and -seed it was made with)", scratch)
	}
	start := time.Now()
	sets, err := generate(scratch, o, o.data == "")
	if err != nil {
		return err
	}
	var total, records int64
	for _, d := range sets {
		total += d.bytes
		records += d.records
		say("  %s: %d records, %.1f MiB in %d objects", d.name, d.records, float64(d.bytes)/(1<<20), len(d.keys))
	}
	say("generated %d records in %.1f s", records, time.Since(start).Seconds())

	rep := report{o: o, sets: sets, bytes: total, records: records, stamp: time.Now().UTC(), loadBefore: loadBefore}
	if !o.skipDuckDB {
		say("duckdb side: COPY (SELECT * FROM read_json_auto(...)) TO ... (FORMAT parquet), threads = %d", o.threads)
		out := filepath.Join(scratch, "duckdb-out")
		rep.duck, err = runDuckDB(ctx, python, scratch, out, sets, o)
		if err != nil {
			return err
		}
		os.RemoveAll(out)
		say("duckdb side: %.1f s, %.0f rows/s, peak RSS %d MiB", rep.duck.Seconds, float64(records)/rep.duck.Seconds, rep.duck.MaxRSSKiB>>10)
	}

	say("opsflow side: preparing (%s)", ops.describe())
	if err := ops.prepare(ctx, scratch, sets); err != nil {
		return err
	}
	say("opsflow side: converting, GOMAXPROCS = %d", o.threads)
	rep.ops, err = ops.convert(ctx, o, sets)
	if err != nil {
		return err
	}
	say("opsflow side: %.1f s, %.0f rows/s, peak RSS %d MiB", rep.ops.seconds, float64(records)/rep.ops.seconds, rep.ops.maxRSSKiB>>10)
	if err := ops.check(rep.ops, sets); err != nil {
		return err
	}
	if rep.duck != nil {
		for _, d := range sets {
			if got := rep.duck.Datasets[d.name].Rows; got != d.records {
				return fmt.Errorf("duckdb side wrote %d rows of %s, the data has %d records", got, d.name, d.records)
			}
		}
	}

	md := rep.markdown()
	fmt.Print("\n" + md)
	if err := os.MkdirAll(o.results, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.results, "bridge-"+rep.stamp.Format("20060102-150405")+".md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	say("report written to %s", path)
	return nil
}
