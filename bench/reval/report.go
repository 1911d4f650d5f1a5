package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// anchor is the seed's figure for today's manual procedure (shared/seeds, revalidation sync):
// the old job deletes masterdoctorindex and rebuilds it in place, so "Connections won't be
// available for almost 6 hours".
const anchor = "current_connections unavailable for **~6 hours per sync** (the job deletes masterdoctorindex and rebuilds it in place)"

// report is one run's figures, written as markdown so it can go into the README as is.
type report struct {
	o        options
	h        *harness
	raw      rawResult
	ops      opsflowResult
	machine  string
	benchRSS int64
}

func perSec(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(n) / secs
}

func mb(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}

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
	fmt.Fprintf(&b, "## Revalidation sync benchmark, %s\n\n", r.h.stamp.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(&b, "`go run ./bench/reval -doctors %d -gmc-only %d -seed %d -batch %d -raw-receivers %d -warmup=%t` (environment %s)\n\n",
		r.o.doctors, r.o.gmcOnly, r.o.seed, r.o.batch, r.o.receivers, r.o.warmup, r.h.env)
	b.WriteString("| figure | value |\n|---|---|\n")
	row("doctors (TCS / GMC messages)", "%d / %d", r.o.doctors, r.o.doctors+r.o.gmcOnly)
	ratio := r.ops.Seconds / r.raw.Seconds
	row("**ratio opsflow / raw**", "**%.2fx** (goal ≤ %.2fx: %s)", ratio, goalRatio, verdict(ratio <= goalRatio))
	row("raw total (create index → last GMC update refreshed)", "%.1f s", r.raw.Seconds)
	row("opsflow total (workflow start → result)", "%.1f s", r.ops.Seconds)
	r.ingestRows(row)
	r.outageRows(row)
	row("**worker peak RSS** (VmHWM)", "**%s**", mb(r.ops.WorkerRSS))
	r.engineRows(row)
	row("bench process peak RSS (raw client, alias reader, monitor)", "%s", mb(r.benchRSS))
	row("largest backlog raw / opsflow (RabbitMQ ready; SQS waiting)", "%d / %d; %d / %d",
		r.raw.Peaks.RabbitMax, r.ops.Peaks.RabbitMax, r.raw.Peaks.SQSMax, r.ops.Peaks.SQSMax)
	row("longest SQS stall raw / opsflow (nothing visible, the same messages in flight)", "%.1f s / %.1f s%s",
		r.raw.Peaks.sqsStall.Seconds(), r.ops.Peaks.sqsStall.Seconds(), stallNote(r.raw.Peaks.sqsStall, r.ops.Peaks.sqsStall))
	res := r.ops.Result
	row("counts raw", "index total %d, from TCS %d, with GMC data %d, GMC only %d",
		r.raw.Total, r.raw.WithTCS, r.raw.WithGMC, r.raw.Created)
	row("counts opsflow", "connections %d, GMC %d (created %d), index total %d, current_connections %d, discrepancies %d",
		res.Connections.Docs, res.GMC.Docs, res.GMC.Created, res.Counts.Total, res.Counts.CurrentConnections, res.Counts.Discrepancies)
	row("opsflow ingest attempts", "syncData %d, GMC %d", res.Connections.Attempt, res.GMC.Attempt)
	row("live index during the sync", "%s (%d docs)", r.ops.Live, r.o.liveDocs)
	row("search engine", "%s; masterdoctorindex* wiped before each side", r.h.eng)
	row("SQS", "%s%s", r.h.cfg.Reval.SQSEndpoint, r.pidNote(roleSQS))
	row("machine", "%s", r.machine)
	row("load average at start (raw / opsflow)", "%s / %s", r.raw.Load, r.ops.Load)

	b.WriteString("\nWhere the CPU went (utime + stime of each process during each side; the simulators run in their own process):\n\n")
	b.WriteString(cpuTable([]string{"raw", "opsflow"}, r.raw.CPU, r.ops.CPU))
	if len(r.ops.Phases) > 0 {
		b.WriteString("\nopsflow phases (activity scheduled → completed, from the run's history):\n\n| phase | s |\n|---|---|\n")
		for _, p := range r.ops.Phases {
			fmt.Fprintf(&b, "| %s | %.2f |\n", p.Name, p.Seconds)
		}
	}
	return b.String()
}

type rowFunc func(k string, format string, args ...any)

// ingestRows are the docs/s of each leg, for each side.
func (r report) ingestRows(row rowFunc) {
	conn, gmc := r.ops.Result.Connections, r.ops.Result.GMC
	connRate := perSec(conn.Docs, conn.Seconds)
	row("TCS leg, raw (syncStart → syncEnd acked + refresh)", "%.1f s, **%.0f docs/s**",
		r.raw.TCSSeconds, perSec(r.raw.TCSDocs, r.raw.TCSSeconds))
	row("TCS leg, opsflow (IngestConnections: consume + bulk index)", "%.1f s, **%.0f docs/s** (goal ≥ %d: %s); %.2fx the raw leg",
		conn.Seconds, connRate, goalDocsPerSec, verdict(connRate >= goalDocsPerSec), conn.Seconds/r.raw.TCSSeconds)
	row("GMC leg, raw (gmcSyncStart → scan, receive, bulk upsert, delete + refresh)", "%.1f s, **%.0f docs/s**",
		r.raw.GMCSeconds, perSec(r.raw.GMCMessages, r.raw.GMCSeconds))
	row("GMC leg, opsflow (IngestGMC: scan + receive + bulk upsert + delete)", "%.1f s, **%.0f docs/s**; %.2fx the raw leg",
		gmc.Seconds, perSec(gmc.Docs, gmc.Seconds), gmc.Seconds/r.raw.GMCSeconds)
	row("opsflow outside the two ingests", "%.1f s (raw: %.2f s to create its index)",
		r.ops.Seconds-conn.Seconds-gmc.Seconds, r.raw.CreateSeconds)
}

// outageRows are the alias reader's figures next to the seed's anchor.
func (r report) outageRows(row rowFunc) {
	if rd := r.ops.Reader; rd != nil {
		ok := rd.outage == 0 && rd.empties == 0 && rd.failures == 0
		row("**alias outage** (current_connections read every 50 ms during the sync)",
			"**%.2f s, %d empty reads** (goal 0 s, 0 empty reads: %s): %d reads, %d failed, slowest read %d ms",
			rd.outage.Seconds(), rd.empties, verdict(ok), rd.reads, rd.failures, rd.slowest.Milliseconds())
		if rd.firstProblem != "" {
			row("first alias problem", "%s", rd.firstProblem)
		}
	}
	row("anchor: today's manual procedure (seed)", "%s", anchor)
}

// engineRows are the search engine's memory: JVM heap from the node stats, process RSS.
func (r report) engineRows(row rowFunc) {
	re, oe := r.raw.Engine, r.ops.Engine
	row("OpenSearch JVM heap, raw / opsflow (GET /_nodes/stats/jvm)", "used at end %s / %s; peak sampled every 0.5 s %s / %s; heap max %s",
		mb(re.HeapEnd), mb(oe.HeapEnd), mb(re.HeapPeak), mb(oe.HeapPeak), mb(max(re.HeapMax, oe.HeapMax)))
	pid := r.h.servers[roleSearch]
	if pid == 0 {
		row("OpenSearch process RSS", "n/a: no local process listens on the engine's port")
		return
	}
	hwm, _ := vmHWM(strconv.Itoa(pid))
	row("OpenSearch process RSS, raw / opsflow"+r.pidNote(roleSearch), "peak sampled %s / %s; VmHWM since it started %s",
		mb(re.RSSPeak), mb(oe.RSSPeak), mb(hwm))
}

// stallNote explains a long SQS stall, which inflates that side's time by up to the
// queue's visibility timeout.
func stallNote(raw, ops time.Duration) string {
	if max(raw, ops) < 5*time.Second {
		return ""
	}
	return ": a side waited for messages in flight to come back after their visibility timeout; its time is inflated by that"
}

// pidNote is " (pid 123, java)" for a server found on this machine.
func (r report) pidNote(role string) string {
	if pid := r.h.servers[role]; pid > 0 {
		return fmt.Sprintf(" (pid %d, %s)", pid, commandName(pid))
	}
	return ""
}
