package ella

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Health states of ELLA as the scheduled check (the seed's debug checklist) sees it. An alert
// e-mail goes out only when the state changes: HealthOK to HealthAlert raises, back clears.
const (
	HealthUnknown = "" // no check has run yet: treated as HealthOK for the transition
	HealthOK      = "ok"
	HealthAlert   = "alert"
)

// HealthQuery answers the last report of an EllaHealth run; HealthMemo is the memo key the
// Web UI shows it under.
const (
	HealthQuery = "health"
	HealthMemo  = "ellaHealth"
)

// HealthThresholds are the limits of the debug checklist; zero fields take the defaults
// (DefaultHealthThresholds), so a schedule's input names only what it changes.
type HealthThresholds struct {
	// PageMillis and APIMillis bound the response time of ELLA's page and API.
	PageMillis int `json:"pageMillis,omitempty"`
	APIMillis  int `json:"apiMillis,omitempty"`
	// Max5xxPercent bounds the share of 5xx responses among the access log's new requests,
	// once there are at least Min5xxCount of them (a single 500 among 3 requests is no storm).
	Max5xxPercent float64 `json:"max5xxPercent,omitempty"`
	Min5xxCount   int     `json:"min5xxCount,omitempty"`
	// MaxNewUIExceptions bounds the new uiexception rows (error toasts users saw).
	MaxNewUIExceptions int `json:"maxNewUiExceptions,omitempty"`
	// MaxLoadPerCPU bounds the host's 5-minute load average divided by its CPUs.
	MaxLoadPerCPU float64 `json:"maxLoadPerCpu,omitempty"`
	// MaxConnections bounds the connections to ELLA's database (pg_stat_activity).
	MaxConnections int `json:"maxConnections,omitempty"`
	// LongQuerySeconds is when a query counts as long; MaxLongQueries bounds how many may run.
	LongQuerySeconds int `json:"longQuerySeconds,omitempty"`
	MaxLongQueries   int `json:"maxLongQueries,omitempty"`
}

// DefaultHealthThresholds: a page slower than 3 s, more than 5% 5xx (of 10 requests or more),
// more than 5 new UI exceptions, a load over 2 per CPU, 80 connections, or any query running
// longer than 5 minutes is an alert.
var DefaultHealthThresholds = HealthThresholds{PageMillis: 3000, APIMillis: 3000, Max5xxPercent: 5, Min5xxCount: 10,
	MaxNewUIExceptions: 5, MaxLoadPerCPU: 2, MaxConnections: 80, LongQuerySeconds: 300, MaxLongQueries: 0}

// WithDefaults fills the zero fields from DefaultHealthThresholds. MaxLongQueries stays as
// given: its default is 0 (any long query alerts).
func (t HealthThresholds) WithDefaults() HealthThresholds {
	d := DefaultHealthThresholds
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&t.PageMillis, d.PageMillis)
	set(&t.APIMillis, d.APIMillis)
	set(&t.Min5xxCount, d.Min5xxCount)
	set(&t.MaxNewUIExceptions, d.MaxNewUIExceptions)
	set(&t.MaxConnections, d.MaxConnections)
	set(&t.LongQuerySeconds, d.LongQuerySeconds)
	if t.Max5xxPercent == 0 {
		t.Max5xxPercent = d.Max5xxPercent
	}
	if t.MaxLoadPerCPU == 0 {
		t.MaxLoadPerCPU = d.MaxLoadPerCPU
	}
	return t
}

// Validate refuses negative limits and a percentage over 100, naming the field.
func (t HealthThresholds) Validate() error {
	var errs []error
	ints := map[string]int{"pageMillis": t.PageMillis, "apiMillis": t.APIMillis, "min5xxCount": t.Min5xxCount,
		"maxNewUiExceptions": t.MaxNewUIExceptions, "maxConnections": t.MaxConnections,
		"longQuerySeconds": t.LongQuerySeconds, "maxLongQueries": t.MaxLongQueries}
	for _, k := range sortedKeys(ints) {
		if ints[k] < 0 {
			errs = append(errs, fmt.Errorf("threshold %s is negative (%d)", k, ints[k]))
		}
	}
	if t.Max5xxPercent < 0 || t.Max5xxPercent > 100 {
		errs = append(errs, fmt.Errorf("threshold max5xxPercent %v is not within 0..100", t.Max5xxPercent))
	}
	if t.MaxLoadPerCPU < 0 {
		errs = append(errs, fmt.Errorf("threshold maxLoadPerCpu is negative (%v)", t.MaxLoadPerCPU))
	}
	return errors.Join(errs...)
}

// HealthInput is an EllaHealth run's input (the Schedule's action): the thresholds, who
// gets the alert and cleared e-mails, and the task queue of the ELLA host whose worker runs
// the check (empty: the run's own task queue). The check keeps its state on that host, so a
// Schedule always names the same one (after a failover, the schedule is pointed at the other).
type HealthInput struct {
	Thresholds HealthThresholds `json:"thresholds"`
	To         []string         `json:"to"`
	TaskQueue  string           `json:"taskQueue,omitempty"`
}

// Validate refuses an input without recipients or with bad thresholds.
func (in HealthInput) Validate() error {
	var errs []error
	if len(in.To) == 0 {
		errs = append(errs, errors.New("no recipient for health alerts (to)"))
	} else if err := checkRecipients("to", in.To); err != nil {
		errs = append(errs, err)
	}
	if err := in.Thresholds.Validate(); err != nil {
		errs = append(errs, err)
	}
	if in.TaskQueue != "" && !taskQueueRE.MatchString(in.TaskQueue) {
		errs = append(errs, fmt.Errorf("taskQueue %q is not a host's task queue name", in.TaskQueue))
	}
	return errors.Join(errs...)
}

// Probe is one timed HTTP request: its status (0: no answer) and duration.
type Probe struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
	Millis int64  `json:"millis"`
	Error  string `json:"error,omitempty"`
}

// HealthMeasurements are what one check saw. Counts "new" are since the previous check.
type HealthMeasurements struct {
	Page Probe  `json:"page"`
	API  *Probe `json:"api,omitempty"`
	// Requests and Status5xx are the access log's new lines and the 5xx among them;
	// LogRotated says the log was rotated or truncated since the last check.
	Requests   int  `json:"requests"`
	Status5xx  int  `json:"status5xx"`
	LogRotated bool `json:"logRotated,omitempty"`
	// NewUIExceptions are uiexception rows with ids in (UIExceptionFrom, UIExceptionTo].
	NewUIExceptions int   `json:"newUiExceptions"`
	UIExceptionFrom int64 `json:"uiExceptionFrom"`
	UIExceptionTo   int64 `json:"uiExceptionTo"`
	// Load1/5/15 from /proc/loadavg, CPUs the host's.
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
	CPUs   int     `json:"cpus"`
	// Connections to ELLA's database; LongQueries running longer than the threshold, the
	// longest for LongestSeconds.
	Connections    int `json:"connections"`
	LongQueries    int `json:"longQueries"`
	LongestSeconds int `json:"longestSeconds"`
	// Programs are ELLA's supervisord programs' states (MISSING: supervisord does not know it).
	Programs map[string]string `json:"programs"`
	// Errors are checks that could not be made (each is also an alert).
	Errors []string `json:"errors,omitempty"`
}

// HealthReport is one check: when, what it saw, the alerts and the resulting state.
type HealthReport struct {
	Checked      time.Time          `json:"checked"`
	Status       string             `json:"status"`
	Alerts       []string           `json:"alerts,omitempty"`
	Measurements HealthMeasurements `json:"measurements"`
}

// Evaluate gives the alerts of measurements m under thresholds t (defaults filled), in the
// checklist's order; none means HealthOK. A page or API answering below 500 (a 401 of an API
// resource included) answers; no answer or a 5xx is an alert, as is a slow answer.
func Evaluate(m HealthMeasurements, t HealthThresholds) []string {
	t = t.WithDefaults()
	var alerts []string
	add := func(format string, args ...any) { alerts = append(alerts, fmt.Sprintf(format, args...)) }
	probe := func(name string, p Probe, limit int) {
		switch {
		case p.Status == 0:
			add("%s %s does not answer: %s", name, p.URL, p.Error)
		case p.Status >= 500:
			add("%s %s answers HTTP %d", name, p.URL, p.Status)
		case p.Millis > int64(limit):
			add("%s %s answered in %d ms (limit %d ms)", name, p.URL, p.Millis, limit)
		}
	}
	probe("page", m.Page, t.PageMillis)
	if m.API != nil {
		probe("API", *m.API, t.APIMillis)
	}
	if m.Requests >= t.Min5xxCount && m.Requests > 0 {
		if pct := 100 * float64(m.Status5xx) / float64(m.Requests); pct > t.Max5xxPercent {
			add("%d of %d requests answered 5xx (%.1f%%, limit %.1f%%)", m.Status5xx, m.Requests, pct, t.Max5xxPercent)
		}
	}
	if m.NewUIExceptions > t.MaxNewUIExceptions {
		add("%d new uiexception rows (ids %d..%d; limit %d)", m.NewUIExceptions, m.UIExceptionFrom+1, m.UIExceptionTo, t.MaxNewUIExceptions)
	}
	if m.CPUs > 0 && m.Load5/float64(m.CPUs) > t.MaxLoadPerCPU {
		add("host load %.2f over 5 minutes on %d CPUs (limit %.2f per CPU)", m.Load5, m.CPUs, t.MaxLoadPerCPU)
	}
	if m.Connections > t.MaxConnections {
		add("%d database connections (limit %d)", m.Connections, t.MaxConnections)
	}
	if m.LongQueries > t.MaxLongQueries {
		add("%d queries running longer than %d s, the longest %d s (limit %d)", m.LongQueries, t.LongQuerySeconds, m.LongestSeconds, t.MaxLongQueries)
	}
	for _, p := range sortedKeys(m.Programs) {
		if s := m.Programs[p]; s != "RUNNING" {
			add("supervisord program %s is %s", p, s)
		}
	}
	for _, e := range m.Errors {
		add("check failed: %s", e)
	}
	return alerts
}

// StatusOf is HealthAlert when there are alerts, else HealthOK.
func StatusOf(alerts []string) string {
	if len(alerts) > 0 {
		return HealthAlert
	}
	return HealthOK
}

// Health transitions, what EllaHealth e-mails: only a change of state is told.
const (
	TransitionNone    = ""
	TransitionRaised  = "raised"
	TransitionCleared = "cleared"
)

// Transition is what changed from the previous state to the current one: an unknown previous
// state counts as ok (the first check alerting raises; the first check ok tells nothing).
func Transition(previous, current string) string {
	switch {
	case previous != HealthAlert && current == HealthAlert:
		return TransitionRaised
	case previous == HealthAlert && current == HealthOK:
		return TransitionCleared
	}
	return TransitionNone
}

// Evidence is the report as text for the e-mail: the alerts, then the measurements.
func (r HealthReport) Evidence() string {
	var b strings.Builder
	m := r.Measurements
	b.WriteString(fmt.Sprintf("Sjekket %s: %s\n", r.Checked.UTC().Format(time.RFC3339), r.Status))
	for _, a := range r.Alerts {
		b.WriteString(fmt.Sprintf("- %s\n", a))
	}
	b.WriteString(fmt.Sprintf("\nSide: HTTP %d på %d ms", m.Page.Status, m.Page.Millis))
	if m.API != nil {
		b.WriteString(fmt.Sprintf("; API: HTTP %d på %d ms", m.API.Status, m.API.Millis))
	}
	b.WriteString(fmt.Sprintf("\nForespørsler siden forrige sjekk: %d, 5xx: %d", m.Requests, m.Status5xx))
	if m.LogRotated {
		b.WriteString(" (loggen er rotert)")
	}
	b.WriteString(fmt.Sprintf("\nNye uiexception: %d\nLast: %.2f %.2f %.2f (%d CPU)\nDatabase: %d tilkoblinger, %d lange spørringer (lengste %d s)\n",
		m.NewUIExceptions, m.Load1, m.Load5, m.Load15, m.CPUs, m.Connections, m.LongQueries, m.LongestSeconds))
	for _, p := range sortedKeys(m.Programs) {
		b.WriteString(fmt.Sprintf("%s: %s\n", p, m.Programs[p]))
	}
	return b.String()
}

// sortedKeys lists a map's keys in order, so workflow code (EllaHealth) visits them
// deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	// Only collects the keys, sorted below, so the order of the range does not matter.
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
