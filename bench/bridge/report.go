package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is one run's figures, as markdown.
type report struct {
	o       options
	sets    []*dataset
	bytes   int64
	records int64
	duck    *duckdbResult
	ops     *opsResult
	stamp   time.Time
	// loadBefore is the load average when the run started (other work on the machine).
	loadBefore string
}

func mib(kib int64) string { return fmt.Sprintf("%d MiB", kib>>10) }

func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Bridge JSON → Parquet benchmark, %s\n\n", r.stamp.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "`go run ./bench/bridge -gib %g -threads %d -parallel %d -days %d -seed %d` (%d CPUs, %s; load average before the run %s, after %s)\n\n",
		r.o.gib, r.o.threads, r.o.parallel, r.o.days, r.o.seed, runtime.NumCPU(), runtime.Version(), r.loadBefore, loadAverage())
	b.WriteString("| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| data | %.2f GiB of NDJSON, %d records in %d objects |\n", float64(r.bytes)/(1<<30), r.records, r.objects())
	for _, d := range r.sets {
		fmt.Fprintf(&b, "| &nbsp; %s | %d records, %.1f MiB |\n", d.name, d.records, float64(d.bytes)/(1<<20))
	}
	ops := r.ops
	opsRate := float64(r.records) / ops.seconds
	if d := r.duck; d != nil {
		fmt.Fprintf(&b, "| DuckDB %s `COPY (SELECT * FROM read_json_auto(...)) TO ... (FORMAT parquet)`, threads %d | %.1f s, **%.0f rows/s**, %.1f MiB/s, Parquet %.1f MiB |\n",
			d.Version, r.o.threads, d.Seconds, float64(r.records)/d.Seconds, float64(r.bytes)/(1<<20)/d.Seconds, float64(d.parquetBytes())/(1<<20))
		if r.o.duckOrder {
			b.WriteString("| DuckDB settings | preserve_insertion_order = true (its default) |\n")
		} else {
			b.WriteString("| DuckDB settings | preserve_insertion_order = false (several times faster here than its default) |\n")
		}
		fmt.Fprintf(&b, "| DuckDB CPU | python child %.1f s (its whole life, with the interpreter's start), for %.1f s of COPY |\n", d.CPUSeconds, d.Seconds)
		fmt.Fprintf(&b, "| DuckDB peak RSS (python child, ru_maxrss) | %s |\n", mib(d.MaxRSSKiB))
	}
	fmt.Fprintf(&b, "| opsflow %s, GOMAXPROCS %d | %.1f s, **%.0f rows/s**, %.1f MiB/s, Parquet %.1f MiB in %d files |\n",
		ops.what, r.o.threads, ops.seconds, opsRate, float64(r.bytes)/(1<<20)/ops.seconds, float64(ops.parquetBytes)/(1<<20), ops.files)
	fmt.Fprintf(&b, "| opsflow CPU | benchmark process %.1f s, S3 server (versitygw) %.1f s, for %.1f s of wall time |\n",
		ops.cpuSeconds, ops.s3CPUSeconds, ops.seconds)
	fmt.Fprintf(&b, "| opsflow peak RSS (VmHWM of the benchmark, reset before the side) | %s |\n", mib(ops.maxRSSKiB))
	if d := r.duck; d != nil {
		ratio := opsRate / (float64(r.records) / d.Seconds)
		verdict := "met"
		if ratio < 1 {
			verdict = "not met"
		}
		fmt.Fprintf(&b, "| **ratio opsflow / DuckDB (rows/s)** | **%.2fx** (goal ≥ 1x: %s) |\n", ratio, verdict)
	}
	b.WriteString("\nopsflow's tables (rows written; DuckDB writes one row per record, its arrays as LIST columns):\n\n")
	b.WriteString("| table | rows | columns |\n|---|---|---|\n")
	names := make([]string, 0, len(ops.tables))
	for n := range ops.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := ops.tables[n]
		fmt.Fprintf(&b, "| %s | %d | %d |\n", n, t.rows, t.columns)
	}
	b.WriteString("\n" + ops.notes + "\n")
	return b.String()
}

func (r report) objects() int {
	n := 0
	for _, d := range r.sets {
		n += len(d.keys)
	}
	return n
}

func (d *duckdbResult) parquetBytes() int64 {
	var n int64
	for _, s := range d.Datasets {
		n += s.Bytes
	}
	return n
}
