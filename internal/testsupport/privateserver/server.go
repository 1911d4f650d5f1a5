// Package privateserver starts private instances of the dev stack's servers for one test:
// RabbitMQ (rabbitmq-server from Debian), S3 (versitygw), OpenSearch and ElasticMQ (the jars
// scripts/stack resolved), each from the binary or jars the stack installed, on ports and
// directories of its own under t.TempDir(). A fault test stops, starts and restarts its private
// instance the way a host loses a server, and never touches the shared stack other tests use.
// Each server's output goes to a log file in its directory, shown when the test fails.
package privateserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one private server process owned by a test. Its methods are called from the test's
// goroutine (they fail the test with t.Fatalf).
type Server struct {
	t testing.TB
	// Name says which server it is in messages and the log's name.
	Name string
	// Dir holds the server's data and configuration; it survives Stop and Restart.
	Dir string
	// LogPath is the file the server's output is appended to, across restarts.
	LogPath string

	argv, env    []string
	probe        func(ctx context.Context) error
	startTimeout time.Duration
	stopGrace    time.Duration

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// newServer prepares a server (not started); it is stopped when the test ends and its log's
// tail is shown when the test failed.
func newServer(t testing.TB, name, dir string, argv, env []string, probe func(context.Context) error,
	startTimeout, stopGrace time.Duration) *Server {
	t.Helper()
	s := &Server{t: t, Name: name, Dir: dir, LogPath: filepath.Join(dir, name+".log"), argv: argv, env: env,
		probe: probe, startTimeout: startTimeout, stopGrace: stopGrace}
	t.Cleanup(func() {
		s.halt(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("private %s log %s (last 40 lines):\n%s", name, s.LogPath, tailFile(s.LogPath, 40))
		}
	})
	return s
}

// Start runs the server and waits until it answers; the test fails with the log's tail when it
// exits or does not answer in time. Starting a running server is a test bug.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		s.t.Fatalf("private %s: Start while it runs", s.Name)
	}
	s.starts++
	log, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.mu.Unlock()
		s.t.Fatalf("private %s: log: %v", s.Name, err)
	}
	fmt.Fprintf(log, "\n==== %s privateserver: start %d: %s\n", time.Now().Format(time.RFC3339Nano), s.starts, strings.Join(s.argv, " "))
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir, cmd.Env = s.Dir, s.env
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so a stop reaches what it forked; and if the test binary dies
	// without its cleanups (go test -timeout), the server is told to stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Close()
		s.mu.Unlock()
		s.t.Fatalf("private %s: start %s: %v", s.Name, s.argv[0], err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(s.startTimeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		last = s.probe(ctx)
		cancel()
		if last == nil {
			return
		}
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			s.t.Fatalf("private %s exited during start %d (%v); its log %s:\n%s", s.Name, s.starts, cmd.ProcessState, s.LogPath, tailFile(s.LogPath, 40))
		default:
		}
		if time.Now().After(deadline) {
			s.halt(syscall.SIGTERM)
			s.t.Fatalf("private %s did not answer within %s (last: %v); its log %s:\n%s", s.Name, s.startTimeout, last, s.LogPath, tailFile(s.LogPath, 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop ends the server the way its service manager does (SIGTERM to its process group, SIGKILL
// after the grace period) and waits until it is gone. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.halt(syscall.SIGTERM) }

// Kill ends the server at once (SIGKILL to its process group), like a host losing power.
func (s *Server) Kill() { s.halt(syscall.SIGKILL) }

// Restart stops the server and starts it again on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Running says whether the server's process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *Server) halt(sig syscall.Signal) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-exited:
		return
	case <-time.After(s.stopGrace):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// freePort is a 127.0.0.1 port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("privateserver: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tailFile is the last n lines of a file ("" when it cannot be read).
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// baseEnv is the test's environment without the variables that would point a private server
// at the shared stack's (its own settings are appended after it).
func baseEnv(drop ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		keep := true
		for _, p := range drop {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// repoRoot is the module root (scripts/ lives there).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
