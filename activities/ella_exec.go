package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// ellaOutputLimit bounds the output of a command kept for errors and results.
const ellaOutputLimit = 16 << 10

// ellaHeartbeat is how often a running command or read heartbeats.
const ellaHeartbeat = 10 * time.Second

// run runs ella-cli (an argument list, never a shell) in Dir with CLIEnv added to the
// environment, heartbeating, and returns its trimmed output and exit status. err is for a
// command that could not run at all.
func (a *EllaActivities) run(ctx context.Context, argv []string) (string, int, error) {
	return runArgv(ctx, a.Dir, a.CLIEnv, argv)
}

// runPG runs a PostgreSQL client tool with the connection in its environment (PGHOST...,
// PGPASSWORD), so no password is ever on a command line.
func (a *EllaActivities) runPG(ctx context.Context, argv []string) (string, int, error) {
	env := []string{"PGHOST=" + a.PG.Host, "PGUSER=" + a.PG.User, "PGDATABASE=" + a.PG.Database, "PGCONNECT_TIMEOUT=10"}
	if a.PG.Port != 0 {
		env = append(env, "PGPORT="+strconv.Itoa(a.PG.Port))
	}
	if a.PG.Password != "" {
		env = append(env, "PGPASSWORD="+a.PG.Password)
	}
	return runArgv(ctx, a.Dir, env, argv)
}

func runArgv(ctx context.Context, dir string, extraEnv, argv []string) (string, int, error) {
	if len(argv) == 0 {
		return "", 0, errors.New("no command")
	}
	stop := heartbeatEvery(ctx, "running "+argv[0])
	defer stop()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdin = nil
	out := &cappedBuffer{max: ellaOutputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
		return text, 0, nil
	case ctx.Err() != nil:
		return text, 0, fmt.Errorf("%s: %w", argv[0], ctx.Err())
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return text, exit.ExitCode(), nil
	}
	return text, 0, fmt.Errorf("running %s: %w", argv[0], err)
}

// heartbeatEvery records a heartbeat now and every ellaHeartbeat until stop is called.
func heartbeatEvery(ctx context.Context, what string) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	activity.RecordHeartbeat(ctx, what)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(ellaHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, what)
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// cappedBuffer keeps the first max bytes written to it (and says what it dropped).
type cappedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
		b.dropped += len(p) - min(room, len(p))
	} else {
		b.dropped += len(p)
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s\n[%d more bytes of output]", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}
