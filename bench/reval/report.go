package main

import (
	"fmt"
	"strings"
	"time"
)

// report is one run's figures, written as markdown so it can go into the README as is.
type report struct {
	o                options
	env, esTarget    string
	machine, loadRaw string
	raw              rawResult
	ops              opsflowResult
	benchRSS         int64
	when             time.Time
}

func perSec(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func (r report) markdown() string {
	var b strings.Builder
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(&b, "| %s | %s |\n", k, fmt.Sprintf(format, args...))
	}
	res := r.ops.Result
	conn, gmc := res.Connections, res.GMC
	ratio := r.ops.TotalSeconds / r.raw.TotalSeconds
	connRate := perSec(conn.Docs, conn.Seconds)
	fmt.Fprintf(&b, "## Revalidation sync benchmark, %s\n\n", r.when.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "`go run ./bench/reval -doctors %d -gmc-only %d -seed %d -batch %d -raw-receivers %d` (environment %s)\n\n",
		r.o.doctors, r.o.gmcOnly, r.o.seed, r.o.batch, r.o.receivers, r.env)
	b.WriteString("| figure | value |\n|---|---|\n")
	row("doctors (TCS / GMC messages)", "%d / %d", r.o.doctors, r.o.doctors+r.o.gmcOnly)
	row("raw TCS leg (publish syncStart → syncEnd acked)", "%.1f s (%.0f msg/s)", r.raw.TCSSeconds, perSec(r.raw.TCSMessages, r.raw.TCSSeconds))
	row("raw GMC leg (publish gmcSyncStart → all deleted)", "%.1f s (%.0f msg/s)", r.raw.GMCSeconds, perSec(r.raw.GMCMessages, r.raw.GMCSeconds))
	row("**raw total**", "**%.1f s**", r.raw.TotalSeconds)
	row("**opsflow total** (workflow start → result)", "**%.1f s**", r.ops.TotalSeconds)
	row("opsflow syncData ingest (consume + bulk index)", "%.1f s, **%.0f docs/s** (goal ≥ %d: %s); %.2fx the raw TCS leg",
		conn.Seconds, connRate, goalDocsPerSec, verdict(connRate >= goalDocsPerSec), conn.Seconds/r.raw.TCSSeconds)
	row("opsflow GMC ingest (scan + receive + bulk upsert + delete)", "%.1f s, %.0f docs/s; %.2fx the raw GMC leg",
		gmc.Seconds, perSec(gmc.Docs, gmc.Seconds), gmc.Seconds/r.raw.GMCSeconds)
	row("largest backlog raw / opsflow (RabbitMQ ready; SQS waiting)", "%d / %d; %d / %d",
		r.raw.Backlog.RabbitMax, r.ops.Backlog.RabbitMax, r.raw.Backlog.SQSMax, r.ops.Backlog.SQSMax)
	row("CPU-s during the raw drain", "%s", r.raw.CPU)
	row("CPU-s during the sync", "%s", r.ops.CPU)
	row("opsflow outside the two ingests", "%.1f s", r.ops.TotalSeconds-conn.Seconds-gmc.Seconds)
	row("**ratio opsflow / raw**", "**%.2fx** (goal ≤ %.1fx: %s)", ratio, goalRatio, verdict(ratio <= goalRatio))
	row("counts", "connections %d, GMC %d (created %d), index total %d, current_connections %d, discrepancies %d",
		conn.Docs, gmc.Docs, gmc.Created, res.Counts.Total, res.Counts.CurrentConnections, res.Counts.Discrepancies)
	row("ingest attempts", "syncData %d, GMC %d", conn.Attempt, gmc.Attempt)
	row("**worker peak RSS** (VmHWM)", "**%s**", mb(r.ops.WorkerRSS))
	if r.ops.ESRSS > 0 {
		row("estest-server peak RSS (not the worker; holds the indexes in memory)", "%s", mb(r.ops.ESRSS))
	}
	row("bench process peak RSS (simulators + raw client)", "%s", mb(r.benchRSS))
	if rd := r.ops.Reader; rd != nil {
		row("**alias outage** (current_connections every 50 ms)", "**%.2f s**: %d reads, %d failed, %d empty, slowest read %d ms",
			rd.outage.Seconds(), rd.reads, rd.failures, rd.empties, rd.slowest.Milliseconds())
		if rd.firstProblem != "" {
			row("first alias problem", "%s", rd.firstProblem)
		}
	}
	live := r.ops.Live
	if live == "" {
		live = "existing aliases left as found"
	}
	row("live index during the sync", "%s (%d docs)", live, r.o.liveDocs)
	row("Elasticsearch", "%s", r.esTarget)
	row("machine", "%s", r.machine)
	row("load average at start (raw / opsflow)", "%s / %s", r.loadRaw, r.ops.load)
	if len(r.ops.Phases) > 0 {
		b.WriteString("\nopsflow phases (activity scheduled → completed, from the run's history):\n\n| phase | s |\n|---|---|\n")
		for _, p := range r.ops.Phases {
			fmt.Fprintf(&b, "| %s | %.2f |\n", p.Name, p.Seconds)
		}
	}
	return b.String()
}
