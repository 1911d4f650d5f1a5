package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/revalmsg"
	"github.com/opsflow/opsflow/internal/revalsim"
)

// proc is a child process the benchmark started and must stop, whatever happens.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	logFile *os.File
}

// startProc starts bin with its output in logPath. Its own process group keeps a Ctrl-C in
// the terminal from reaching it before the benchmark has read its figures (the benchmark
// stops it itself), and Pdeathsig stops it should the benchmark be killed outright.
func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{}), logFile: f}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace (the worker finishes running activities first),
// then kills. Safe to call twice.
func (p *proc) stop(grace time.Duration) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			fmt.Fprintf(os.Stderr, "bench: %s did not stop within %s after SIGTERM: killing it\n", p.name, grace)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	_ = p.logFile.Close()
}

// peakRSS is the process's high-water resident set (VmHWM), read before it is stopped: the
// kernel keeps the peak, so no sampling can miss a short spike.
func (p *proc) peakRSS() (int64, error) {
	return vmHWM(strconv.Itoa(p.cmd.Process.Pid))
}

// vmHWM reads VmHWM of /proc/<pid>/status in bytes; pid may be "self".
func vmHWM(pid string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + pid + "/status")
}

// logTail is the end of a child's log, for error messages.
func (p *proc) logTail(lines int) string {
	b, _ := os.ReadFile(p.logPath)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// waitForLog waits until the child's log contains want; it fails early when the child exits.
func (p *proc) waitForLog(ctx context.Context, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(p.logPath)
		if strings.Contains(string(b), want) {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v) before logging %q; log tail:\n%s", p.name, p.waitErr, want, p.logTail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not log %q within %s; log tail:\n%s", p.name, want, timeout, p.logTail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a 127.0.0.1 port nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitForES pings until Elasticsearch answers, so the worker's own preflight ping succeeds.
func waitForES(ctx context.Context, es *esclient.Client, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := es.Ping(ctx); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("elasticsearch at %s not answering after %s: %w", es.URL(), timeout, err)
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited (%v); log tail:\n%s", p.name, p.waitErr, p.logTail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// seedLiveIndex gives the aliases an index to serve while the sync builds the new one, as
// in production, so the alias reader measures the switch and not an empty start. On a real
// Elasticsearch it leaves existing aliases alone (it would otherwise add a second index
// behind them) and reports that it did nothing.
func seedLiveIndex(ctx context.Context, es *esclient.Client, docs int, seed uint64) (string, error) {
	if idx, err := es.AliasIndices(ctx, esclient.CurrentConnectionsAlias); err == nil && len(idx) > 0 {
		return "", nil
	}
	live := esclient.MasterDoctorIndexName(time.Now().Add(-time.Hour))
	if err := es.CreateIndex(ctx, live, esclient.MasterDoctorMapping()); err != nil {
		return "", err
	}
	batch := make([]esclient.Doc, 0, docs)
	for i := range docs {
		// Another seed than the sync's: the live build is "yesterday's" population.
		g := revalsim.Generate(seed+1, i)
		src := revalmsg.ConnectionDoc(g.Connection)
		for k, v := range revalmsg.GMCDoc(g.GMC) {
			src[k] = v
		}
		src["existsInGmc"] = true // every reader poll must find documents behind current_connections
		batch = append(batch, esclient.Doc{ID: revalmsg.DocID(g.Connection.TCSPersonID), Source: src})
	}
	res, err := es.BulkIndex(ctx, live, batch, esclient.WithRefresh())
	if err != nil {
		return "", err
	}
	if len(res.Failed) > 0 {
		return "", fmt.Errorf("seed live index %s: %d documents refused, first: %v", live, len(res.Failed), res.Failed[0])
	}
	if err := es.SwitchAliases(ctx, esclient.RevalidationAliases(live)); err != nil {
		return "", err
	}
	return live, nil
}

// aliasReader polls current_connections every 50 ms for the whole sync, the way the
// connection service's list reads it. A failed read or an empty answer counts as outage
// from the previous read on, so the outage is the time a user could have seen no list.
type aliasReader struct {
	mu                       sync.Mutex
	reads, failures, empties int64
	outage, slowest          time.Duration
	firstProblem             string
}

func (r *aliasReader) run(ctx context.Context, es *esclient.Client) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	prev := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		began := time.Now()
		n, err := es.Count(ctx, esclient.CurrentConnectionsAlias)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		r.mu.Lock()
		r.reads++
		r.slowest = max(r.slowest, now.Sub(began))
		problem := ""
		switch {
		case err != nil:
			r.failures++
			problem = err.Error()
		case n == 0:
			r.empties++
			problem = "current_connections returned 0 documents"
		}
		if problem != "" {
			r.outage += now.Sub(prev)
			if r.firstProblem == "" {
				r.firstProblem = now.Format(time.RFC3339Nano) + " " + problem
			}
		}
		r.mu.Unlock()
		prev = now
	}
}
