// Package watchers is the vocabulary of the scheduled watchers (the tsd-import data movers, the
// Bridge downstream's triggers and ELLA's health check): which watchers exist, the workflow
// each runs, and how their Temporal Schedules are configured (an interval or a cron expression
// per watcher, a paused flag, a note, the input's settings). No Temporal client here: the
// starter's `opsflow schedules apply` turns these into schedules.
package watchers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron"

	"github.com/opsflow/opsflow/internal/ella"
)

// Watcher is a scheduled scan: one of the three programs of tsd-import, or a trigger of the
// Bridge downstream.
type Watcher struct {
	// Name is the program's name, also the schedule's id (plus the environment).
	Name string
	// Workflow is the scan's workflow type.
	Workflow string
	// Side is where its data is: NSC (the sequencing centre), TSD (the sensitive-data platform)
	// or Bridge.
	Side string
	// Purpose says in a line what the scan does, shown in the schedule's note by default.
	Purpose string
	// Every or Cron is the watcher's default timing (Defaults).
	Every time.Duration
	Cron  string
	// Input is the kind of argument the schedule's action passes the workflow (Input*).
	Input string
	// Needs is what a schedules file must give before the watcher is scheduled (empty: its
	// defaults run).
	Needs string
}

// The inputs a watcher's workflow takes, so the starter builds the schedule's action argument.
const (
	// InputScan is workflows.WatcherScanInput (environment, batchSize, prefix).
	InputScan = ""
	// InputEllaHealth is ella.HealthInput (thresholds, to, taskQueue): Schedule.HealthInput.
	InputEllaHealth = "ella.HealthInput"
)

// All lists the scan watchers (InputScan, nothing to configure) in the order data flows
// through them; Known adds EllaHealth.
var All = []Watcher{
	{Name: "lims-exporter", Workflow: "LimsExportScan", Side: "NSC", Every: 5 * time.Minute,
		Purpose: "writes packages for the samples and analyses in the LIMS export queue"},
	{Name: "nsc-exporter", Workflow: "NSCExportScan", Side: "NSC", Every: 5 * time.Minute,
		Purpose: "uploads complete packages of the export area to the TSD S3 endpoint, manifest last"},
	{Name: "filelock-exporter", Workflow: "FilelockScan", Side: "TSD", Every: 5 * time.Minute,
		Purpose: "imports uploaded packages into the durable area, verified, READY last"},
	{Name: "bridge-notifications", Workflow: "BridgeNotificationPoll", Side: "Bridge", Every: time.Minute,
		Purpose: "starts BridgeArchiveToJSON for each archive its S3 event notification announces"},
	{Name: "bridge-sweep", Workflow: "BridgeArchiveSweep", Side: "Bridge", Every: time.Hour,
		Purpose: "starts BridgeArchiveToJSON for archives no notification started (none processed or refused yet)"},
	{Name: "bridge-parquet", Workflow: "BridgeParquetScan", Side: "Bridge", Cron: "55 * * * *",
		Purpose: "converts each dataset's new or changed NDJSON partitions to Parquet, then checks completeness"},
}

// Lookup finds a watcher by name.
func Lookup(name string) (Watcher, error) {
	for _, w := range Known() {
		if w.Name == name {
			return w, nil
		}
	}
	return Watcher{}, fmt.Errorf("unknown watcher %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names are the names of the Known watchers, for messages.
func Names() []string {
	var names []string
	for _, w := range Known() {
		names = append(names, w.Name)
	}
	return names
}

// ScheduleID is the id of the watcher's schedule in an environment, so two environments
// sharing a namespace keep separate schedules.
func ScheduleID(watcher, environment string) string {
	if environment == "" {
		return watcher
	}
	return watcher + "-" + environment
}

// Minimum interval between two scans of a watcher; Temporal's own catch-up window minimum
// is 10s, and a scan more often than this only adds history.
const minEvery = 10 * time.Second

// Schedule is how often one watcher scans. Exactly one of Every and Cron is set.
type Schedule struct {
	Watcher string `json:"watcher"`
	// Every is an interval such as "5m" (Go duration syntax).
	Every Duration `json:"every,omitempty"`
	// Cron is a five-field cron expression, in UTC.
	Cron string `json:"cron,omitempty"`
	// Paused creates or keeps the schedule paused (no scans until unpaused).
	Paused bool `json:"paused,omitempty"`
	// Note is shown with the schedule (in the Web UI and `temporal schedule describe`).
	Note string `json:"note,omitempty"`
	// CatchupWindow is how far back missed scans are caught up after an outage (default: one
	// interval, or one hour for cron). With the skip overlap policy, the missed windows are
	// caught up by one scan, not one per window.
	CatchupWindow Duration `json:"catchupWindow,omitempty"`
	// BatchSize is how many packages a scan starts at once (0: the workflow's default).
	BatchSize int `json:"batchSize,omitempty"`
	// Prefix limits the listing to keys under it (bridge-sweep: the archive bucket's prefix).
	Prefix string `json:"prefix,omitempty"`
	// To, TaskQueue and Thresholds are ella-health's only (Schedule.HealthInput): who gets
	// the alert and cleared e-mails (required), the ELLA host's task queue (default
	// DefaultEllaTaskQueue) and the checklist's limits (zero fields: the defaults).
	To         []string               `json:"to,omitempty"`
	TaskQueue  string                 `json:"taskQueue,omitempty"`
	Thresholds *ella.HealthThresholds `json:"thresholds,omitempty"`
}

// Catchup is the catch-up window to use.
func (s Schedule) Catchup() time.Duration {
	switch {
	case s.CatchupWindow > 0:
		return time.Duration(s.CatchupWindow)
	case s.Every > 0:
		return max(time.Duration(s.Every), minEvery)
	}
	return time.Hour
}

// Describe is the schedule's timing in words, for listings.
func (s Schedule) Describe() string {
	if s.Cron != "" {
		return "cron " + s.Cron
	}
	return "every " + time.Duration(s.Every).String()
}

// Defaults are the schedules of a deployment that configures none: each watcher's own timing
// (the tsd-import watchers every five minutes, Bridge notifications every minute, the sweep
// hourly, the Parquet conversion at minute 55 like the original's trigger), running. The
// ELLA health check's default has no recipients: Missing says so and apply skips it.
func Defaults() []Schedule {
	known := Known()
	out := make([]Schedule, len(known))
	for i, w := range known {
		out[i] = Schedule{Watcher: w.Name, Every: Duration(w.Every), Cron: w.Cron, Note: w.Purpose}
	}
	return out
}

// Load reads a JSON array of schedules from path ("" = Defaults). A watcher the file leaves
// out keeps its default; every problem is reported at once.
func Load(path string) ([]Schedule, error) {
	if path == "" {
		return Defaults(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("schedules file: %w", err)
	}
	return Parse(path, data)
}

// Parse checks the schedules document named file.
func Parse(file string, data []byte) ([]Schedule, error) {
	var given []Schedule
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&given); err != nil {
		return nil, fmt.Errorf("schedules file %s is not a JSON array of schedules: %w", file, err)
	}
	out := Defaults()
	seen := map[string]bool{}
	var problems []string
	for i, s := range given {
		if err := s.check(); err != nil {
			problems = append(problems, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		if seen[s.Watcher] {
			problems = append(problems, fmt.Sprintf("entry %d: watcher %s is configured twice", i, s.Watcher))
			continue
		}
		seen[s.Watcher] = true
		for j := range out {
			if out[j].Watcher == s.Watcher {
				if s.Note == "" {
					s.Note = out[j].Note
				}
				out[j] = s
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("schedules file %s: %s", file, strings.Join(problems, "; "))
	}
	return out, nil
}

func (s Schedule) check() error {
	w, err := Lookup(s.Watcher)
	if err != nil {
		return err
	}
	switch {
	case s.Every != 0 && s.Cron != "":
		return fmt.Errorf("watcher %s: give every or cron, not both", s.Watcher)
	case s.Every == 0 && s.Cron == "":
		return fmt.Errorf("watcher %s: give every (e.g. \"5m\") or cron (e.g. \"*/5 * * * *\")", s.Watcher)
	case s.Every != 0 && time.Duration(s.Every) < minEvery:
		return fmt.Errorf("watcher %s: every %s is below %s", s.Watcher, time.Duration(s.Every), minEvery)
	case s.CatchupWindow != 0 && time.Duration(s.CatchupWindow) < minEvery:
		return fmt.Errorf("watcher %s: catchupWindow %s is below %s", s.Watcher, time.Duration(s.CatchupWindow), minEvery)
	case s.BatchSize < 0 || s.BatchSize > 200:
		return fmt.Errorf("watcher %s: batchSize %d is outside 0..200", s.Watcher, s.BatchSize)
	}
	if s.Cron != "" {
		if _, err := cron.ParseStandard(s.Cron); err != nil {
			return fmt.Errorf("watcher %s: cron %q: %w", s.Watcher, s.Cron, err)
		}
	}
	return s.checkInput(w)
}

// Duration is a time.Duration written as "5m" in JSON.
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
