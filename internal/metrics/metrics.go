// Package metrics exposes the Temporal SDK's worker metrics (workflow and activity counts,
// latencies, failures) in Prometheus text format. The SDK's tally contrib module is not
// reachable from this project's module proxy, so this is a small handler of our own.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
)

// Registry holds every series the SDK reported, keyed by name and tags.
type Registry struct {
	prefix string
	mu     sync.Mutex
	series map[string]*series
}

type kind int

const (
	counterKind kind = iota
	gaugeKind
	timerKind
)

// Timer buckets in seconds, from a fast activity to a long deployment step.
var buckets = []float64{0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800}

type series struct {
	name   string
	labels string
	kind   kind
	value  float64  // counter total or gauge value
	count  uint64   // timers
	sum    float64  // timers, seconds
	bucket []uint64 // timers, cumulative per bucket
}

// NewRegistry starts an empty registry; prefix (e.g. "opsflow_") starts every metric name.
func NewRegistry(prefix string) *Registry {
	return &Registry{prefix: prefix, series: map[string]*series{}}
}

// Handler is the client.MetricsHandler to pass in client.Options.
func (r *Registry) Handler() client.MetricsHandler { return &handler{r: r} }

type handler struct {
	r    *Registry
	tags map[string]string
}

func (h *handler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &handler{r: h.r, tags: merged}
}

func (h *handler) Counter(name string) client.MetricsCounter {
	s := h.r.get(name, h.tags, counterKind)
	return counterFunc(func(d int64) { h.r.mu.Lock(); s.value += float64(d); h.r.mu.Unlock() })
}

func (h *handler) Gauge(name string) client.MetricsGauge {
	s := h.r.get(name, h.tags, gaugeKind)
	return gaugeFunc(func(v float64) { h.r.mu.Lock(); s.value = v; h.r.mu.Unlock() })
}

func (h *handler) Timer(name string) client.MetricsTimer {
	s := h.r.get(name, h.tags, timerKind)
	return timerFunc(func(d time.Duration) {
		secs := d.Seconds()
		h.r.mu.Lock()
		defer h.r.mu.Unlock()
		s.count++
		s.sum += secs
		for i, b := range buckets {
			if secs <= b {
				s.bucket[i]++
			}
		}
	})
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

var invalid = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func (r *Registry) get(name string, tags map[string]string, k kind) *series {
	name = r.prefix + invalid.ReplaceAllString(name, "_")
	keys := make([]string, 0, len(tags))
	for key := range tags {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, key := range keys {
		parts = append(parts, fmt.Sprintf(`%s=%q`, invalid.ReplaceAllString(key, "_"), tags[key]))
	}
	labels := strings.Join(parts, ",")
	id := name + "{" + labels + "}"
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.series[id]
	if !ok {
		s = &series{name: name, labels: labels, kind: k}
		if k == timerKind {
			s.bucket = make([]uint64, len(buckets))
		}
		r.series[id] = s
	}
	return s
}

// WriteText writes every series in the Prometheus text exposition format.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.series))
	for id := range r.series {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	typed := map[string]bool{}
	for _, id := range ids {
		s := r.series[id]
		if !typed[s.name] {
			typed[s.name] = true
			t := map[kind]string{counterKind: "counter", gaugeKind: "gauge", timerKind: "histogram"}[s.kind]
			if _, err := fmt.Fprintf(w, "# TYPE %s %s\n", s.name, t); err != nil {
				return err
			}
		}
		switch s.kind {
		case counterKind, gaugeKind:
			fmt.Fprintf(w, "%s%s %s\n", s.name, braces(s.labels), num(s.value))
		case timerKind:
			for i, b := range buckets {
				fmt.Fprintf(w, "%s_bucket%s %d\n", s.name, braces(join(s.labels, fmt.Sprintf(`le="%s"`, num(b)))), s.bucket[i])
			}
			fmt.Fprintf(w, "%s_bucket%s %d\n", s.name, braces(join(s.labels, `le="+Inf"`)), s.count)
			fmt.Fprintf(w, "%s_sum%s %s\n", s.name, braces(s.labels), num(s.sum))
			fmt.Fprintf(w, "%s_count%s %d\n", s.name, braces(s.labels), s.count)
		}
	}
	return nil
}

// ServeHTTP serves /metrics.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_ = r.WriteText(w)
}

func braces(labels string) string {
	if labels == "" {
		return ""
	}
	return "{" + labels + "}"
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}
