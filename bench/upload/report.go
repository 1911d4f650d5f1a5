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
	o         options
	total     int64
	bare, ops []time.Duration
	endpoint  string
	stamp     time.Time
}

// median of the runs of one side (the lower middle one for an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func seconds(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.1f", d.Seconds()))
	}
	return strings.Join(parts, ", ") + " s"
}

func (r report) markdown() string {
	var b strings.Builder
	bare, ops := median(r.bare), median(r.ops)
	fmt.Fprintf(&b, "## nsc-exporter upload benchmark, %s\n\n", r.stamp.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "`go run ./bench/upload -gib %g -files %d -part-size-mib %d -concurrency %d -rounds %d` against %s "+
		"(%d CPUs, %s)\n\n", r.o.gib, r.o.files, r.o.partSize>>20, r.o.concurrency, r.o.rounds, r.endpoint, runtime.NumCPU(), runtime.Version())
	b.WriteString("| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| data | %.2f GiB in %d files (+ the .sample) |\n", float64(r.total)/(1<<30), r.o.files)
	fmt.Fprintf(&b, "| bare aws-sdk-go-v2 multipart (median) | %.1f s, **%.1f MB/s** (runs: %s) |\n", bare.Seconds(), mbps(r.total, bare), seconds(r.bare))
	fmt.Fprintf(&b, "| opsflow UploadPackage (median) | %.1f s, **%.1f MB/s** (runs: %s) |\n", ops.Seconds(), mbps(r.total, ops), seconds(r.ops))
	fmt.Fprintf(&b, "| **ratio opsflow / bare (time)** | **%.2fx** |\n", ops.Seconds()/bare.Seconds())
	b.WriteString("\nopsflow does more than the anchor for each file: it reads it once more to compute its SHA-256 " +
		"(stored as x-amz-meta-sha256 and in the manifest; the multipart upload is created with it), HEADs its key " +
		"and lists pending uploads to resume, heartbeats, checks the file did not change, and writes the manifest last. " +
		"MB/s are MiB of data per second; the files are in the page cache for both sides.\n")
	return b.String()
}
