package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/opsflow/opsflow/workflows"
)

// Lines of bench/reval's output and report this scenario reads.
var (
	revalWritten = regexp.MustCompile(`result written to (\S+)`)
	revalEnv     = regexp.MustCompile(`\(environment (\S+)\)`)
	revalRSS     = regexp.MustCompile(`\*\*worker peak RSS\*\* \(VmHWM\) \| \*\*(\d+) MB\*\*`)
	revalTotal   = regexp.MustCompile(`opsflow total \(workflow start → result\) \| ([\d.]+) s`)
	revalTCS     = regexp.MustCompile(`\| TCS leg, opsflow [^|]*\| ([^|]+) \|`)
	revalGMC     = regexp.MustCompile(`\| GMC leg, opsflow [^|]*\| ([^|]+) \|`)
	revalCPU     = map[string]*regexp.Regexp{
		"worker":   regexp.MustCompile(`\| worker \(opsflow-worker\) \| [^|]+ \| ([\d.]+) \|`),
		"temporal": regexp.MustCompile(`\| Temporal dev server \| [^|]+ \| ([\d.]+) \|`),
		"sqs":      regexp.MustCompile(`\| ElasticMQ \(SQS\) \| [^|]+ \| ([\d.]+) \|`),
	}
)

// revalScenario runs the revalidation sync benchmark (bench/reval) as it is, rather than a
// second copy of it: it drains -doctors doctors through RabbitMQ and SQS into OpenSearch with a
// bare client and then with RevalidationSync on the worker binary, checks every doctor arrived
// once, and writes its own report (bench/results/reval-*.md) with the worker's peak RSS. This
// scenario takes the opsflow side's figures from that report and adds what it does not record:
// the sync's Temporal history size, read from the server by the run's environment.
func (h *harness) revalScenario(ctx context.Context) (*result, error) {
	o := h.o
	bin := filepath.Join(h.tmp, "bench-reval")
	build := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "./bench/reval")
	build.Dir = h.root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./bench/reval: %w\n%s", err, out)
	}
	args := append([]string{"-doctors", strconv.Itoa(o.doctors), "-results", o.results}, strings.Fields(o.revalFlags)...)
	res := &result{scenario: "reval", title: fmt.Sprintf("revalidation sync at %d doctors", o.doctors),
		size: fmt.Sprintf("%d doctors (TCS and GMC)", o.doctors), loadBefore: loadAverage()}
	say("reval: bench/reval %s", strings.Join(args, " "))
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = h.root
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)
	cmd.Stderr = io.MultiWriter(os.Stderr, &out)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench/reval %s: %w", strings.Join(args, " "), err)
	}
	res.loadAfter = loadAverage()
	m := revalWritten.FindStringSubmatch(out.String())
	if m == nil {
		return nil, fmt.Errorf("bench/reval wrote no report (no \"result written to\" line)")
	}
	reportPath := m[1]
	report, err := os.ReadFile(reportPath)
	if err != nil {
		return nil, err
	}
	text := string(report)
	find := func(re *regexp.Regexp, what string) (string, error) {
		if got := re.FindStringSubmatch(text); got != nil {
			return strings.TrimSpace(got[1]), nil
		}
		return "", fmt.Errorf("%s: no %s (the report's format changed?)", reportPath, what)
	}
	env, err := find(revalEnv, "environment")
	if err != nil {
		return nil, err
	}
	total, err := find(revalTotal, "opsflow total")
	if err != nil {
		return nil, err
	}
	rss, err := find(revalRSS, "worker peak RSS")
	if err != nil {
		return nil, err
	}
	res.wall, _ = strconv.ParseFloat(total, 64)
	res.wallWhat = "RevalidationSync: workflow start → result, both ingests, checks and the alias switch"
	mb, _ := strconv.ParseInt(rss, 10, 64)
	res.usage = usage{workerPeakKiB: mb << 10, cpu: map[string]float64{}}
	for k, re := range revalCPU {
		if v, err := find(re, k+" CPU"); err == nil {
			res.usage.cpu[k], _ = strconv.ParseFloat(v, 64)
		}
	}
	for _, leg := range []struct {
		what string
		re   *regexp.Regexp
	}{{"TCS leg (IngestConnections)", revalTCS}, {"GMC leg (IngestGMC)", revalGMC}} {
		if v, err := find(leg.re, leg.what); err == nil {
			res.row(leg.what, "%s", v)
		}
	}
	res.row("bench/reval report", "`%s` (environment %s; also the bare client's side, the alias outage, OpenSearch's memory)", relTo(h.root, reportPath), env)
	runs, err := h.waitClosed(ctx, fmt.Sprintf("WorkflowId = %q", workflows.RevalidationSyncWorkflowID(env)), 1)
	if err != nil {
		return nil, err
	}
	res.histories = summarize(runs, "RevalidationSync")
	if s := res.stat("RevalidationSync"); s.statuses["Completed"] != s.runs {
		return nil, fmt.Errorf("RevalidationSync of %s: runs %v, want all completed", env, s.statuses)
	}
	res.check("bench/reval's own: every doctor in the index exactly once (its run fails otherwise); the sync's runs all completed")
	return res, nil
}

// relTo is path relative to root when it is under it.
func relTo(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
