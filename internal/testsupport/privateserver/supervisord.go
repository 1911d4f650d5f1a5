package privateserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// Supervisord takes over a test's private supervisord (supervisordtest.Start) so a fault test
// can take it down and bring it back: Stop ends it as `systemctl stop supervisor` does (SIGTERM;
// its programs stop with it), Start runs supervisord again from the same configuration, on the
// same port, as a server of this package (programs with autostart start again, as after a
// reboot).
type Supervisord struct {
	t    testing.TB
	inst *supervisordtest.Instance
	// srv is the supervisord this package started (nil until the first Start).
	srv *Server
}

// SupervisordOf is the control of inst, which must be running.
func SupervisordOf(t testing.TB, inst *supervisordtest.Instance) *Supervisord {
	t.Helper()
	return &Supervisord{t: t, inst: inst}
}

// Stop ends the supervisord that runs now and waits until it and its programs are gone.
func (s *Supervisord) Stop() {
	s.t.Helper()
	if s.srv != nil {
		s.srv.Stop()
		return
	}
	// The instance supervisordtest started: its pid file names it (supervisord -n writes it).
	pidFile := filepath.Join(s.inst.Dir, "supervisord.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		s.t.Fatalf("privateserver: the private supervisord's pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		s.t.Fatalf("privateserver: %s holds %q, not a pid", pidFile, data)
	}
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmd), s.inst.ConfigPath) {
		s.t.Fatalf("privateserver: pid %d is not the supervisord of %s", pid, s.inst.ConfigPath)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		s.t.Fatalf("privateserver: SIGTERM to supervisord %d: %v", pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("privateserver: supervisord %d did not stop within 30s", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Nothing answers on its port any more.
	c, err := supervisor.New(s.inst.URL, s.inst.Username, s.inst.Password, 2*time.Second)
	if err == nil {
		defer c.Close()
		if _, err := c.State(context.Background()); err == nil {
			s.t.Fatalf("privateserver: %s still answers after supervisord %d stopped", s.inst.URL, pid)
		}
	}
}

// Start runs supervisord again from the instance's configuration and waits until it reports
// RUNNING on the same URL.
func (s *Supervisord) Start() {
	s.t.Helper()
	if s.srv == nil {
		bin, err := exec.LookPath("supervisord")
		if v := os.Getenv("OPSFLOW_SUPERVISORD"); v != "" {
			bin, err = exec.LookPath(v)
		}
		if err != nil {
			s.t.Fatalf("privateserver: supervisord: %v: %s", err, installHint)
		}
		dir := filepath.Join(s.inst.Dir, "restarted")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			s.t.Fatal(err)
		}
		c, err := supervisor.New(s.inst.URL, s.inst.Username, s.inst.Password, 2*time.Second)
		if err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { _ = c.Close() })
		s.srv = newServer(s.t, "supervisord", dir, []string{bin, "-n", "-c", s.inst.ConfigPath}, os.Environ(),
			func(ctx context.Context) error {
				state, err := c.State(ctx)
				if err == nil && state != "RUNNING" {
					err = fmt.Errorf("supervisord state %s", state)
				}
				return err
			}, 30*time.Second, 15*time.Second)
	}
	s.srv.Start()
}
