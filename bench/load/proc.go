package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process the benchmark started and must stop, whatever happens (the
// pattern of bench/reval's proc).
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error
	logFile *os.File
}

// startProc starts bin with its output in logPath, in its own process group (a Ctrl-C in the
// terminal reaches the benchmark, which stops it after reading its figures); Pdeathsig stops
// it should the benchmark be killed outright.
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

// pid is the child's process id as a /proc name.
func (p *proc) pid() string { return strconv.Itoa(p.cmd.Process.Pid) }

// stop sends SIGTERM and waits up to grace (the worker finishes running activities first),
// then kills. Safe to call twice.
func (p *proc) stop(grace time.Duration) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			say("%s did not stop within %s after SIGTERM: killing it", p.name, grace)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	_ = p.logFile.Close()
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

// procStatusKiB reads a "Name:   123 kB" line of /proc/<pid>/status (VmHWM: the peak resident
// set the kernel kept since the process started, so no sampling can miss a spike).
func procStatusKiB(pid, name string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%s/status has no %s line", pid, name)
}

// procCPU is utime + stime of a process in seconds (USER_HZ 100), 0 when it cannot be read.
func procCPU(pid string) float64 {
	if pid == "" {
		return 0
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces) start after the last ')'.
	rest := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(rest) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(rest[11], 64)
	s, _ := strconv.ParseFloat(rest[12], 64)
	return (u + s) / 100
}

// listeningPID is the process listening on the TCP port of a server URL or host:port on this
// machine, found through the socket's inode in /proc/net/tcp{,6} and the processes' file
// descriptors (the way bench/reval finds the servers); "" when the server is elsewhere or not
// found.
func listeningPID(addr string) string {
	host, port := addr, ""
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		host, port = u.Hostname(), u.Port()
	} else if h, p, err := net.SplitHostPort(addr); err == nil {
		host, port = h, p
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	want, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ... inode (field 9); st 0A is LISTEN.
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == want {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		fds, _ := os.ReadDir(d + "/fd")
		for _, fd := range fds {
			if link, err := os.Readlink(d + "/fd/" + fd.Name()); err == nil && inodes[link] {
				return filepath.Base(d)
			}
		}
	}
	return ""
}

// loadAverage is /proc/loadavg's first three fields: what else ran on the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
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

// moduleRoot is the directory of opsflow's go.mod, so the program runs from any directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/opsflow/opsflow\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the opsflow checkout (no go.mod of github.com/opsflow/opsflow above the current directory)")
		}
		dir = parent
	}
}

// goTool is the go command that builds the binaries: $GO as in the Makefile, else PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
