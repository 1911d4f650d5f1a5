// Package supervisordtest starts a private, real supervisord for one test, so service stop
// and start are tested against the program operators use, never a mock.
package supervisordtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsflow/opsflow/internal/supervisor"
)

const (
	readyTimeout = 20 * time.Second // supervisord must answer within this
	stopGrace    = 10 * time.Second // SIGTERM, then SIGKILL after this
	portAttempts = 3                // a free port can be taken before supervisord binds it
)

// Program is one [program:x] section. Command, Directory and Environment are taken
// literally ('%' is escaped). The program never retries or autorestarts, and StartSecs
// 0 means RUNNING as soon as it is spawned.
type Program struct {
	Name, Command, Directory string
	AutoStart                bool
	StartSecs                int
	Environment              map[string]string
}

// Instance is a running supervisord owned by a test; Dir holds its config and logs
// (supervisord.log, <program>.out.log, <program>.err.log).
type Instance struct {
	URL, Username, Password, Dir, ConfigPath string
}

// Start runs supervisord in the foreground as a child of the test, with its config,
// logs and state under t.TempDir(), waits until it reports RUNNING, and stops it when
// the test ends. Its output goes to Dir/stdout.log, never to the test's output. The
// binary is $OPSFLOW_SUPERVISORD, else supervisord on PATH.
func Start(t testing.TB, programs ...Program) *Instance {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("%v: install the Debian package supervisor (scripts/stack up does it)", err)
	}
	dir := t.TempDir()
	var failure string
	for range portAttempts {
		inst := &Instance{Username: "test", Password: "test-pw", Dir: dir, ConfigPath: filepath.Join(dir, "supervisord.conf")}
		port := freePort(t)
		inst.URL = fmt.Sprintf("http://127.0.0.1:%d/RPC2", port)
		conf, err := config(dir, port, inst.Username, inst.Password, programs)
		if err != nil {
			t.Fatalf("supervisordtest: %v", err)
		}
		if err := os.WriteFile(inst.ConfigPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		var portTaken bool
		if failure, portTaken = inst.launch(t, bin); failure == "" {
			return inst
		}
		if !portTaken {
			break
		}
	}
	t.Fatalf("%s", failure)
	return nil
}

// binary finds supervisord: $OPSFLOW_SUPERVISORD if set, else supervisord on PATH.
func binary() (string, error) {
	if bin := os.Getenv("OPSFLOW_SUPERVISORD"); bin != "" {
		if _, err := exec.LookPath(bin); err != nil {
			return "", fmt.Errorf("supervisord not found: OPSFLOW_SUPERVISORD=%s: %w", bin, err)
		}
		return bin, nil
	}
	bin, err := exec.LookPath("supervisord")
	if err != nil {
		return "", errors.New("supervisord not found on PATH")
	}
	return bin, nil
}

// launch starts supervisord and waits for it. It returns "" once it serves, or why it
// does not and whether that is because another process took the port.
func (i *Instance) launch(t testing.TB, bin string) (failure string, portTaken bool) {
	t.Helper()
	logPath := filepath.Join(i.Dir, "stdout.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-c", i.ConfigPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group to signal; and if the test binary dies without running
	// cleanups (e.g. go test -timeout), supervisord still stops its programs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited); logFile.Close() }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}

	c := i.Client(t)
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		state, err := c.State(ctx)
		cancel()
		if err == nil && state == "RUNNING" {
			t.Cleanup(stop)
			return "", false
		}
		select {
		case <-exited:
			tail := i.logTail()
			return fmt.Sprintf("supervisord (%s) exited during startup:\n%s", i.ConfigPath, tail),
				strings.Contains(tail, "already listening")
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Sprintf("supervisord did not report RUNNING at %s within %s (last: state %q, error %v):\n%s",
				i.URL, readyTimeout, state, err, i.logTail()), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns an XML-RPC client for the instance, closed when the test ends.
func (i *Instance) Client(t testing.TB) *supervisor.Client {
	t.Helper()
	c, err := supervisor.New(i.URL, i.Username, i.Password, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logTail is the end of supervisord's own output and log, for startup failures.
func (i *Instance) logTail() string {
	var b strings.Builder
	for _, name := range []string{"stdout.log", "supervisord.log"} {
		p := filepath.Join(i.Dir, name)
		data, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", p, strings.Join(lines, "\n"))
	}
	return b.String()
}
