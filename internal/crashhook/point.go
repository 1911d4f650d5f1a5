// Package crashhook is the crash matrix's test-only hook: it kills the worker process with
// SIGKILL at a named point of a run (before an activity is scheduled, in the middle of a
// heartbeating activity, after an activity's body returned but before its result is
// reported), so end-to-end tests can prove every procedure survives a crash there and does
// each side effect exactly once. Only the worker built with `-tags crashhook`
// (worker/crash_hook.go) installs it; the production binary does not contain this package.
//
// Settings (environment of the worker process):
//
//	OPSFLOW_CRASH_AT         the point: before:<Type>[#n], mid:<ActivityType>[#k], after:<ActivityType>[#k]
//	OPSFLOW_CRASH_ONCE_FILE  required with OPSFLOW_CRASH_AT: created (O_EXCL) with a Record right
//	                         before the kill; when it exists the hook does nothing, so a worker
//	                         restarted with the same settings runs through
//	OPSFLOW_CRASH_TIMEOUT    optional duration: the activities this worker schedules get at
//	                         most this heartbeat timeout (those that have one, and the mid:
//	                         point's), and the after: point's activity without one this
//	                         start-to-close timeout, so recoveries take seconds, not the
//	                         production budget
package crashhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The environment variables the hook reads (see the package comment).
const (
	EnvAt       = "OPSFLOW_CRASH_AT"
	EnvOnceFile = "OPSFLOW_CRASH_ONCE_FILE"
	EnvTimeout  = "OPSFLOW_CRASH_TIMEOUT"
)

// When says where around a step the process dies.
type When string

// The kill points' kinds.
const (
	// Before: in the workflow, when it is about to schedule the n-th execution of an activity
	// (or start the n-th child workflow) of that type, not while replaying: the previous step's
	// result is in the history, this one is not scheduled yet.
	Before When = "before"
	// Mid: in the activity, at its k-th heartbeat (default 2nd) in this process: the server
	// keeps the previous heartbeat's details, the retry resumes from them.
	Mid When = "mid"
	// After: in the activity, once the body of its k-th execution in this process returned
	// without error, before the result is reported: the step's side effect is done, the server
	// does not know it and runs the activity again.
	After When = "after"
)

// Point is one kill point: Before, Mid or After the N-th occurrence of Type.
type Point struct {
	When When
	Type string
	N    int
}

// ParsePoint reads "before:Type", "mid:Type#3", "after:Type#2"; N defaults to 1 (2 for mid:,
// so the server holds one heartbeat to resume from).
func ParsePoint(s string) (Point, error) {
	when, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	p := Point{When: When(when), N: 1}
	if !ok || rest == "" {
		return Point{}, fmt.Errorf("crash point %q: want before:<Type>[#n], mid:<ActivityType>[#k] or after:<ActivityType>[#k]", s)
	}
	switch p.When {
	case Before, After:
	case Mid:
		p.N = 2
	default:
		return Point{}, fmt.Errorf("crash point %q: %q is not before, mid or after", s, when)
	}
	typ, n, hasN := strings.Cut(rest, "#")
	if hasN {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return Point{}, fmt.Errorf("crash point %q: occurrence %q is not a number from 1", s, n)
		}
		p.N = v
	}
	if typ == "" || strings.ContainsAny(typ, " \t:") {
		return Point{}, fmt.Errorf("crash point %q: %q is not a type name", s, typ)
	}
	p.Type = typ
	return p, nil
}

// String is the point as ParsePoint reads it.
func (p Point) String() string { return fmt.Sprintf("%s:%s#%d", p.When, p.Type, p.N) }

// Config is the hook's settings.
type Config struct {
	Point    Point
	OnceFile string
	// Timeout, when set, shortens the activities' timeouts (package comment).
	Timeout time.Duration
}

// FromEnv reads the settings; nil (and no error) when OPSFLOW_CRASH_AT is not set.
func FromEnv() (*Config, error) {
	at := os.Getenv(EnvAt)
	if at == "" {
		return nil, nil
	}
	p, err := ParsePoint(at)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvAt, err)
	}
	cfg := &Config{Point: p, OnceFile: os.Getenv(EnvOnceFile)}
	if cfg.OnceFile == "" {
		return nil, fmt.Errorf("%s=%s needs %s: the marker file that makes the kill happen once", EnvAt, at, EnvOnceFile)
	}
	if s := os.Getenv(EnvTimeout); s != "" {
		if cfg.Timeout, err = time.ParseDuration(s); err != nil || cfg.Timeout <= 0 {
			return nil, fmt.Errorf("%s=%q is not a positive duration", EnvTimeout, s)
		}
	}
	return cfg, nil
}

// Record is what the once file holds: where and when the process was killed, so a test can
// find the run's history and measure the recovery from Time.
type Record struct {
	Point      string    `json:"point"`
	WorkflowID string    `json:"workflowId"`
	RunID      string    `json:"runId"`
	Type       string    `json:"type"`
	ActivityID string    `json:"activityId,omitempty"` // the activity's id in its run (mid:, after:)
	Attempt    int32     `json:"attempt,omitempty"`    // the activity's attempt (mid:, after:)
	PID        int       `json:"pid"`
	Time       time.Time `json:"time"`
}

// ReadRecord reads a once file the hook wrote.
func ReadRecord(path string) (Record, error) {
	var r Record
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("crash record: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("crash record %s: %w", path, err)
	}
	return r, nil
}

// kill ends the process at once, as a power cut or the OOM killer would: no deferred code,
// no worker shutdown, no last heartbeat. Tests of this package replace it.
var kill = func() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL is not delivered later than this, but never run on
}

// fire kills the process unless the once file exists: it creates the file (O_EXCL) with r,
// says so on stderr, and kills. It returns only when the kill was done before (or in tests).
func (c *Config) fire(r Record) {
	f, err := os.OpenFile(c.OnceFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return
	}
	if err != nil {
		// A hook that cannot mark its kill must not kill: the restarted worker would die again.
		fmt.Fprintf(os.Stderr, "crashhook: NOT killing at %s: once file: %v\n", c.Point, err)
		return
	}
	r.Point, r.PID, r.Time = c.Point.String(), os.Getpid(), time.Now()
	data, _ := json.Marshal(r)
	_, werr := f.Write(append(data, '\n'))
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintf(os.Stderr, "crashhook: writing %s: %v (killing anyway: the file exists)\n", c.OnceFile, werr)
	}
	fmt.Fprintf(os.Stderr, "crashhook: SIGKILL at %s (workflow %s, %s)\n", c.Point, r.WorkflowID, r.Type)
	kill()
}
