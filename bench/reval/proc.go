package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// pid is the child's process id while it runs, 0 once it has exited.
func (p *proc) pid() int {
	if p == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
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
