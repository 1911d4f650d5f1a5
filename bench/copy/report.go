package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func render(outs []outcome, variants []variant, total int64, nfiles, conc int, rates hashRates, scratch string) string {
	var b strings.Builder
	now := time.Now().UTC()
	fmt.Fprintf(&b, "## Filelock copy benchmark, %s UTC\n\n", now.Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&b, "`go run ./bench/copy %s` — %d files, %.2f GiB (+ the .sample), scratch %s, opsflow staging %d files at once\n\n",
		strings.Join(os.Args[1:], " "), nfiles, float64(total)/(1<<30), filepath.Dir(scratch), conc)
	b.WriteString("| variant | fastest | throughput | phases of the fastest | every round |\n|---|---|---|---|---|\n")
	for i, o := range outs {
		var ph []string
		for j, p := range variants[i].phases {
			ph = append(ph, fmt.Sprintf("%s %.2f s", p.name, o.phases[j].Seconds()))
		}
		var runs []string
		for _, r := range o.runs {
			runs = append(runs, fmt.Sprintf("%.1f s", r.Seconds()))
		}
		fmt.Fprintf(&b, "| %s | %.1f s | **%.0f MB/s** | %s | %s |\n", o.name, o.total.Seconds(), mbps(total, o.total), strings.Join(ph, "; "), strings.Join(runs, ", "))
	}
	cp, cpsha, ops := mbps(total, outs[0].total), mbps(total, outs[1].total), mbps(total, outs[2].total)
	verdict := "met"
	if ops < 0.8*cp {
		verdict = "NOT met"
	}
	fmt.Fprintf(&b, "\n| ratio | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| **opsflow / cp** (throughput) | **%.2fx** (goal ≥ 0.8x: %s) |\n", ops/cp, verdict)
	fmt.Fprintf(&b, "| opsflow / (cp + sha256sum) | %.2fx |\n", ops/cpsha)
	fmt.Fprintf(&b, "| MD5, one core, in memory | %.0f MB/s |\n", rates.md5)
	fmt.Fprintf(&b, "| SHA-256, one core, in memory | %.0f MB/s |\n", rates.sha256)
	ceiling := float64(runtime.NumCPU()) / (1/rates.md5 + 1/rates.sha256)
	fmt.Fprintf(&b, "| CPU ceiling of MD5 + SHA-256 on %d cores, nothing else running: %d / (1/MD5 + 1/SHA-256) | %.0f MB/s = %.2fx cp |\n",
		runtime.NumCPU(), runtime.NumCPU(), ceiling, ceiling/cp)
	fmt.Fprintf(&b, "\nopsflow computes MD5 and SHA-256 (cp + sha256sum only SHA-256): the .sample lists MD5s, the manifest SHA-256s. "+
		"It hashes the bytes as it writes them (the writer and one goroutine per hash share each 1 MiB buffer) and copies %d files at once, "+
		"so MD5, the slowest (one core per file), runs on both cores; VerifyPackage then compares the recorded digests and the files' sizes "+
		"with the manifest and the .sample without reading the data again. "+
		"Every variant copies sources written and fsynced just before it, so each reads from the page cache and is bounded by the write to disk and, for the hashes, the CPU; "+
		"the page cache cannot be dropped without root. `sync` on the copies is cp's fsync, as StageStream's. "+
		"StageStream writes full chunks with O_DIRECT: through the page cache the kernel's copy and writeback cost about 1.5 s of CPU per GiB here, as much as MD5. "+
		"No copy that computes both digests goes faster than the CPU ceiling above (the copy itself, the reads and other processes on the machine come on top of it), "+
		"and cp's speed on this VM's disk varies between runs (from about 0.4 to 1.7 GB/s seen on the same day): when cp is faster than 1.25x the ceiling, 0.8x of it cannot be reached.\n", conc)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "\nmachine: %d CPUs, %s/%s, %s; load average at the end: %s (other processes share the CPUs the hashes need)\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	return b.String()
}
