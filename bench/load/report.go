package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// result is one scenario's figures.
type result struct {
	scenario, title, size string
	// wall is the scenario's wall time in seconds, wallWhat what it spans.
	wall     float64
	wallWhat string
	usage    usage
	// histories are the runs' history sizes by workflow type.
	histories []historyStat
	rows      [][2]string
	checks    []string
	notes     []string
	// loadBefore and loadAfter are the load averages around the scenario.
	loadBefore, loadAfter string
}

func (r *result) row(k, format string, args ...any) {
	r.rows = append(r.rows, [2]string{k, fmt.Sprintf(format, args...)})
}

func (r *result) check(format string, args ...any) {
	r.checks = append(r.checks, fmt.Sprintf(format, args...))
}

// stat is the history summary of one workflow type (the zero value when no run was listed).
func (r *result) stat(workflowType string) historyStat {
	for _, s := range r.histories {
		if s.workflowType == workflowType {
			return s
		}
	}
	return historyStat{workflowType: workflowType}
}

// biggest is the run type with the largest history in events.
func (r *result) biggest() historyStat {
	var b historyStat
	for _, s := range r.histories {
		if s.maxEvents > b.maxEvents {
			b = s
		}
	}
	return b
}

func mib(kib int64) string {
	if kib <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d MiB", kib>>10)
}

func kb(b int64) string {
	switch {
	case b >= 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// summaryTable is one row per scenario: the figures docs/reliability.md quotes.
func summaryTable(results []*result) string {
	var b strings.Builder
	b.WriteString("| scenario | size | wall time | worker peak RSS | biggest history (events / bytes, run) | runs |\n|---|---|---|---|---|---|\n")
	for _, r := range results {
		big := r.biggest()
		runs := 0
		for _, s := range r.histories {
			runs += s.runs
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f s | %s | %d / %s (%s) | %d |\n", r.title, r.size, r.wall, mib(r.usage.workerPeakKiB),
			big.maxEvents, kb(big.maxBytes), big.workflowType, runs)
	}
	return b.String()
}

// markdown is one scenario's section.
func (r *result) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", r.title)
	b.WriteString("| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| size | %s |\n", r.size)
	fmt.Fprintf(&b, "| **wall time** | **%.1f s** (%s) |\n", r.wall, r.wallWhat)
	fmt.Fprintf(&b, "| **worker peak RSS** (VmHWM of the worker process) | **%s** |\n", mib(r.usage.workerPeakKiB))
	for _, kv := range r.rows {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "| CPU during the scenario (utime + stime) | %s |\n", cpuLine(r.usage.cpu))
	fmt.Fprintf(&b, "| load average before / after | %s / %s |\n", r.loadBefore, r.loadAfter)
	if len(r.histories) > 0 {
		b.WriteString("\nTemporal histories (from the server's visibility store: HistoryLength, HistorySizeBytes; " +
			"a continue-as-new run counts as a run of its own):\n\n")
		b.WriteString("| workflow | runs | by status | biggest history: events | biggest: bytes | all runs: events | all runs: bytes | run time median / slowest |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.histories {
			fmt.Fprintf(&b, "| %s | %d | %s | **%d** | **%s** | %d | %s | %.1f s / %.1f s |\n", s.workflowType, s.runs, statuses(s.statuses),
				s.maxEvents, kb(s.maxBytes), s.sumEvents, kb(s.sumBytes), s.p50.Seconds(), s.slowest.Seconds())
		}
	}
	if len(r.checks) > 0 {
		b.WriteString("\nChecked (the run fails otherwise):\n\n")
		for _, c := range r.checks {
			fmt.Fprintf(&b, "- %s\n", c)
		}
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	return b.String()
}

func cpuLine(cpu map[string]float64) string {
	if len(cpu) == 0 {
		return "n/a"
	}
	names := map[string]string{"worker": "worker", "temporal": "Temporal dev server", "versitygw": "S3 (versitygw)", "sqs": "SQS (ElasticMQ)"}
	var parts []string
	for _, k := range append([]string{"worker"}, servers...) {
		if v, ok := cpu[k]; ok && v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f s", names[k], v))
		}
	}
	return strings.Join(parts, ", ")
}

func statuses(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// write prints the report of the scenarios run and saves it as
// bench/results/load-<scenarios>-<yyyymmdd-hhmmss>.md.
func (h *harness) write(results []*result, command string) error {
	var b strings.Builder
	var names []string
	for _, r := range results {
		names = append(names, r.scenario)
	}
	fmt.Fprintf(&b, "## Load, %s\n\n", h.stamp.Format("2006-01-02 15:04:05 MST"))
	server := "the stack's Temporal dev server (shared with whatever else ran on it)"
	if h.temporal != nil {
		server = "a private Temporal dev server (the stack's binary, SQLite file, started for this run)"
	}
	fmt.Fprintf(&b, "`%s` (%d CPUs, %s; %s; the stack's other servers; all on the same machine)\n\n", command, runtime.NumCPU(), runtime.Version(), server)
	if h.o.note != "" {
		fmt.Fprintf(&b, "%s\n\n", h.o.note)
	}
	b.WriteString(summaryTable(results))
	for _, r := range results {
		b.WriteString("\n" + r.markdown())
	}
	text := b.String()
	fmt.Print("\n" + text)
	if err := os.MkdirAll(h.o.results, 0o755); err != nil {
		return err
	}
	path := filepath.Join(h.o.results, "load-"+strings.Join(names, "-")+"-"+h.stamp.Format("20060102-150405")+".md")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	say("report written to %s", path)
	return nil
}

// lastLine is the last non-empty line of a command's output.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
