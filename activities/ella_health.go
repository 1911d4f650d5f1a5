package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/fsync"
)

// Mail templates of the health check (EllaHealth): sent only on a change of state.
const (
	EllaMailHealthAlert   = "health-alert"   // ok → alert, with the evidence
	EllaMailHealthCleared = "health-cleared" // alert → ok
)

// Where CheckEllaHealth keeps its state between checks, under EllaActivities.Dir.
const (
	ellaHealthDir   = "health"
	ellaHealthState = "last.json"
	ellaHealthLock  = "lock"
)

// EllaHealthInput is one check's thresholds (zero fields: ella.DefaultHealthThresholds).
type EllaHealthInput struct {
	Thresholds ella.HealthThresholds `json:"thresholds"`
}

// EllaHealthResult is the check's report and the state of the check before it (ella.Health*;
// HealthUnknown for the first check on this host), from which EllaHealth decides what to
// e-mail. Baseline says the check had no previous position in the log and uiexception:
// their counts start from now.
type EllaHealthResult struct {
	Report         ella.HealthReport `json:"report"`
	Previous       string            `json:"previous"`
	PreviousAlerts []string          `json:"previousAlerts,omitempty"`
	Baseline       bool              `json:"baseline,omitempty"`
}

// ellaHealthMemory is <Dir>/health/last.json: where the last check stopped reading and what
// it found. Run and Activity name the activity that wrote it, so its retry (which must not
// see its own report as the previous one) returns the same result.
type ellaHealthMemory struct {
	Run           string           `json:"run,omitempty"`
	Activity      string           `json:"activity,omitempty"`
	LogInode      uint64           `json:"logInode,omitempty"`
	LogOffset     int64            `json:"logOffset"`
	HasLog        bool             `json:"hasLog"`
	UIExceptionID int64            `json:"uiExceptionId"`
	HasUI         bool             `json:"hasUi"`
	Result        EllaHealthResult `json:"result"`
}

// CheckEllaHealth runs the seed's debug checklist once: the response time of ELLA's page and
// API, the 5xx share of the access log's lines since the last check (rotation and truncation
// restart at the file's beginning), new uiexception rows since the last check (by id), the
// host's load (/proc/loadavg), the database's connections and long queries
// (pg_stat_activity), and the supervisord states of ELLA's programs. A check that cannot be
// made is an alert, not a failure. The state of the last check is kept in
// <Dir>/health/last.json, so each Schedule run compares with the one before; only failing
// to read or write that file fails the activity.
func (a *EllaActivities) CheckEllaHealth(ctx context.Context, in EllaHealthInput) (EllaHealthResult, error) {
	if err := in.Thresholds.Validate(); err != nil {
		return EllaHealthResult{}, permanent(ErrInvalidInput, err, "%v", err)
	}
	th := in.Thresholds.WithDefaults()
	dir := filepath.Join(a.Dir, ellaHealthDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return EllaHealthResult{}, fmt.Errorf("health state directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ellaHealthLock))
	if err != nil {
		return EllaHealthResult{}, err
	}
	defer unlock()
	statePath := filepath.Join(dir, ellaHealthState)
	prev, err := readHealthMemory(statePath)
	if err != nil {
		return EllaHealthResult{}, err
	}
	var run, actID string
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		run, actID = info.WorkflowExecution.RunID, info.ActivityID
		if info.Attempt > 1 && prev.Run == run && prev.Activity == actID {
			return prev.Result, nil
		}
	}

	next := ellaHealthMemory{Run: run, Activity: actID}
	var m ella.HealthMeasurements
	m.Page = probe(ctx, a.PageURL)
	if a.APIURL != "" {
		p := probe(ctx, a.APIURL)
		m.API = &p
	}
	baseline := false
	if a.AccessLog != "" {
		scan, err := scanAccessLog(ctx, a.AccessLog, prev.HasLog, prev.LogInode, prev.LogOffset)
		if err != nil {
			m.Errors = append(m.Errors, "access log: "+err.Error())
			next.HasLog, next.LogInode, next.LogOffset = prev.HasLog, prev.LogInode, prev.LogOffset
		} else {
			m.Requests, m.Status5xx, m.LogRotated = scan.requests, scan.status5xx, scan.rotated
			next.HasLog, next.LogInode, next.LogOffset = true, scan.inode, scan.offset
			baseline = baseline || !prev.HasLog
		}
	}
	db, err := a.queryHealthDB(ctx, prev.UIExceptionID, th.LongQuerySeconds)
	if err != nil {
		m.Errors = append(m.Errors, "database: "+err.Error())
		next.HasUI, next.UIExceptionID = prev.HasUI, prev.UIExceptionID
	} else {
		m.Connections, m.LongQueries, m.LongestSeconds = db.connections, db.longQueries, db.longestSeconds
		m.UIExceptionFrom, m.UIExceptionTo = prev.UIExceptionID, db.maxID
		switch {
		case prev.HasUI && db.topID < prev.UIExceptionID:
			// The table went back (a restored dump): its ids start again from its highest.
			m.UIExceptionFrom, m.UIExceptionTo = db.topID, db.topID
			baseline = true
		case prev.HasUI:
			m.NewUIExceptions = db.newRows
		default:
			m.UIExceptionFrom = db.maxID
			baseline = true
		}
		next.HasUI, next.UIExceptionID = true, m.UIExceptionTo
	}
	if err := readLoad(&m); err != nil {
		m.Errors = append(m.Errors, "load: "+err.Error())
	}
	programs, err := a.programStates(ctx, ella.Programs)
	if err != nil {
		m.Errors = append(m.Errors, "supervisord: "+err.Error())
	}
	m.Programs = programs

	alerts := ella.Evaluate(m, th)
	res := EllaHealthResult{
		Report:         ella.HealthReport{Checked: time.Now().UTC().Truncate(time.Millisecond), Status: ella.StatusOf(alerts), Alerts: alerts, Measurements: m},
		Previous:       prev.Result.Report.Status,
		PreviousAlerts: prev.Result.Report.Alerts,
		Baseline:       baseline,
	}
	next.Result = res
	if err := writeHealthMemory(statePath, next); err != nil {
		return EllaHealthResult{}, err
	}
	return res, nil
}

func readHealthMemory(path string) (ellaHealthMemory, error) {
	var mem ellaHealthMemory
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return mem, nil
	case err != nil:
		return mem, fmt.Errorf("health state %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &mem); err != nil {
		return mem, permanent(ErrInvalidInput, err, "health state %s is not valid JSON (remove it to start again): %v", path, err)
	}
	return mem, nil
}

// writeHealthMemory replaces the state file whole (written beside it, synced, renamed).
func writeHealthMemory(path string, mem ellaHealthMemory) error {
	data, err := json.MarshalIndent(mem, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("health state: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("health state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("health state: %w", err)
	}
	return fsync.Dir(filepath.Dir(path))
}

// lockFile takes an exclusive flock on path, waiting while ctx lasts, so two checks on one
// host (an overlapping Schedule run, a retry of a timed-out attempt) never interleave.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("health lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("health lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
