package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

// privateTemporal is a Temporal dev server of the benchmark's own: the stack's binary
// (OPSFLOW_TEMPORAL_BIN) started like scripts/stack starts the shared one (a SQLite file, the
// same search attributes, read from scripts/stack so they never drift), on free ports, without
// the Web UI. Thousands of runs at once on the shared server would slow down, and time out, the
// tests other people run on it, and their runs would blur the figures.
type privateTemporal struct {
	p    *proc
	dir  string
	addr string
}

func startPrivateTemporal(ctx context.Context, root, scratch string) (*privateTemporal, error) {
	bin := os.Getenv("OPSFLOW_TEMPORAL_BIN")
	if bin == "" {
		return nil, fmt.Errorf("OPSFLOW_TEMPORAL_BIN is not set: run it with make bench-load, or scripts/stack up and eval \"$(scripts/stack env)\" first")
	}
	attrs, err := stackSearchAttributes(filepath.Join(root, "scripts", "stack"))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(scratch, "bench-load-temporal-")
	if err != nil {
		return nil, err
	}
	ports := make([]string, 3)
	for i := range ports {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		_, ports[i], _ = net.SplitHostPort(a)
	}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", ports[0], "--http-port", ports[1], "--metrics-port", ports[2],
		"--headless", "--db-filename", filepath.Join(dir, "temporal.db"), "--namespace", "default", "--log-level", "warn"}
	for _, a := range attrs {
		args = append(args, "--search-attribute", a)
	}
	p, err := startProc("temporal", filepath.Join(dir, "temporal.log"), os.Environ(), bin, args...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t := &privateTemporal{p: p, dir: dir, addr: "127.0.0.1:" + ports[0]}
	if err := t.waitReady(ctx, attrs); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil
}

// waitReady waits until the server answers and its namespace has the search attributes.
func (t *privateTemporal) waitReady(ctx context.Context, attrs []string) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		if t.p.exited() {
			return fmt.Errorf("private Temporal server exited (%v); log tail:\n%s", t.p.waitErr, t.p.logTail(20))
		}
		c, err := client.Dial(client.Options{HostPort: t.addr, Namespace: "default"})
		if err == nil {
			var resp *operatorservice.ListSearchAttributesResponse
			resp, err = c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
			c.Close()
			if err == nil {
				missing := slices.DeleteFunc(slices.Clone(attrs), func(a string) bool {
					name, _, _ := strings.Cut(a, "=")
					_, ok := resp.CustomAttributes[name]
					return ok
				})
				if len(missing) == 0 {
					return nil
				}
				err = fmt.Errorf("search attributes %v not registered yet", missing)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("private Temporal server at %s not ready within a minute: %v; log tail:\n%s", t.addr, last, t.p.logTail(20))
}

func (t *privateTemporal) stop() {
	t.p.stop(30 * time.Second)
	_ = os.RemoveAll(t.dir)
}

// stackSearchAttributes reads the SEARCH_ATTRIBUTES=( ... ) array of scripts/stack.
func stackSearchAttributes(script string) ([]string, error) {
	f, err := os.Open(script)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	in := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		switch {
		case line == "SEARCH_ATTRIBUTES=(":
			in = true
		case in && line == ")":
			if len(out) == 0 {
				break
			}
			return out, nil
		case in && line != "" && !strings.HasPrefix(line, "#"):
			out = append(out, line)
		}
	}
	return nil, fmt.Errorf("%s: no SEARCH_ATTRIBUTES=( ... ) array", script)
}
