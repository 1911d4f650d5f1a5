// Package supervisordtest starts a private, real supervisord for one test, so service stop
// and start are tested against the program operators use, never a mock.
package supervisordtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsflow/opsflow/internal/supervisor"
)

// Program is one [program:x] section.
type Program struct {
	Name, Command, Directory string
	AutoStart                bool
	StartSecs                int
	Environment              map[string]string
}

// Instance is a running supervisord owned by a test.
type Instance struct {
	URL, Username, Password, Dir, ConfigPath string
}

// Start writes a config under a temp dir, runs supervisord in the foreground as a child
// process, waits until it answers, and stops it when the test ends.
func Start(t testing.TB, programs ...Program) *Instance {
	t.Helper()
	bin := os.Getenv("OPSFLOW_SUPERVISORD")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("supervisord"); err != nil {
			t.Fatalf("supervisord not found: install the Debian package supervisor (scripts/stack up does it)")
		}
	}
	dir := t.TempDir()
	port := freePort(t)
	inst := &Instance{
		URL: fmt.Sprintf("http://127.0.0.1:%d/RPC2", port), Username: "test", Password: "test-pw",
		Dir: dir, ConfigPath: filepath.Join(dir, "supervisord.conf"),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\nchildlogdir=%s\n\n", dir, dir, dir)
	fmt.Fprintf(&b, "[inet_http_server]\nport=127.0.0.1:%d\nusername=%s\npassword=%s\n\n", port, inst.Username, inst.Password)
	b.WriteString("[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n")
	for _, p := range programs {
		fmt.Fprintf(&b, "[program:%s]\ncommand=%s\nautostart=%t\nautorestart=false\nstartsecs=%d\nstartretries=0\nstopwaitsecs=5\n",
			p.Name, p.Command, p.AutoStart, p.StartSecs)
		if p.Directory != "" {
			fmt.Fprintf(&b, "directory=%s\n", p.Directory)
		}
		fmt.Fprintf(&b, "stdout_logfile=%s/%s.out.log\nstderr_logfile=%s/%s.err.log\n", dir, p.Name, dir, p.Name)
		if len(p.Environment) > 0 {
			keys := make([]string, 0, len(p.Environment))
			for k := range p.Environment {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var env []string
			for _, k := range keys {
				env = append(env, fmt.Sprintf("%s=%q", k, p.Environment[k]))
			}
			fmt.Fprintf(&b, "environment=%s\n", strings.Join(env, ","))
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(inst.ConfigPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "stdout.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-c", inst.ConfigPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start supervisord: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
	})

	c := inst.Client(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		state, err := c.State(ctx)
		cancel()
		if err == nil && state == "RUNNING" {
			return inst
		}
		select {
		case <-exited:
			t.Fatalf("supervisord exited during startup:\n%s", tailFile(logPath, filepath.Join(dir, "supervisord.log")))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervisord did not answer at %s within 20s (last error %v):\n%s", inst.URL, err, tailFile(logPath, filepath.Join(dir, "supervisord.log")))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Client returns an XML-RPC client for the instance.
func (i *Instance) Client(t testing.TB) *supervisor.Client {
	t.Helper()
	c, err := supervisor.New(i.URL, i.Username, i.Password, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
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

func tailFile(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		fmt.Fprintf(&b, "== %s\n%s\n", p, strings.Join(lines, "\n"))
	}
	return b.String()
}
