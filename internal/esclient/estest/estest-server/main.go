// Command estest-server runs estest, opsflow's TEST-ONLY stand-in for Elasticsearch 7,
// as a process. It speaks only the REST subset opsflow uses, keeps everything in memory
// and persists nothing: stopping it loses every index. It exists because Elasticsearch
// cannot be installed on the machines opsflow is developed on, and the demo and the
// end-to-end benchmark need an Elasticsearch endpoint that a separate worker process can
// reach. It is not Elasticsearch and must never back a real deployment. With Docker, run
// the real thing instead: `docker compose up -d elasticsearch` and
// OPSFLOW_ES_URL=http://127.0.0.1:9200.
//
// Usage:
//
//	estest-server [--addr 127.0.0.1:9200] [--summary 10s]
//
// --addr defaults to $OPSFLOW_ESTEST_ADDR, else 127.0.0.1:9200. Every --summary period
// with traffic, and once at exit, a summary of the requests (per method and route, with
// errors) goes to stderr, as do requests outside the supported subset. SIGINT and
// SIGTERM shut it down cleanly (exit status 0).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/esclient/estest"
)

func main() {
	def := os.Getenv("OPSFLOW_ESTEST_ADDR")
	if def == "" {
		def = "127.0.0.1:9200"
	}
	addr := flag.String("addr", def, "listen address (env OPSFLOW_ESTEST_ADDR)")
	every := flag.Duration("summary", 10*time.Second, "period of the request summary on stderr (0: only at exit)")
	flag.Parse()
	logger := log.New(os.Stderr, "", log.LstdFlags)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "estest-server:", err)
		os.Exit(1)
	}
	st := &stats{counts: map[string]int{}}
	srv := &http.Server{Handler: st.wrap(estest.NewHandler(logger.Printf)), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("estest-server: TEST-ONLY stand-in for Elasticsearch %s (REST subset, in memory, nothing persisted) on http://%s",
		estest.Version, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *every > 0 {
		go func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if line := st.take(); line != "" {
						logger.Printf("estest-server: last %s: %s", *every, line)
					}
				}
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		fmt.Fprintln(os.Stderr, "estest-server:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Printf("estest-server: shutdown: %v", err)
	}
	if line := st.take(); line != "" {
		logger.Printf("estest-server: since the last summary: %s", line)
	}
	logger.Printf("estest-server: stopped; %d requests served in all, the in-memory indices are gone", st.all)
}

// stats counts requests per method and route for the periodic summary.
type stats struct {
	mu     sync.Mutex
	counts map[string]int
	errs   int
	n      int
	all    int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (st *stats) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		key := r.Method + " " + route(r.URL.Path)
		st.mu.Lock()
		st.counts[key]++
		st.n++
		st.all++
		// A HEAD 404 answers "does it exist?"; only other 4xx/5xx count as errors.
		if sw.status >= 400 && !(r.Method == http.MethodHead && sw.status == http.StatusNotFound) {
			st.errs++
		}
		st.mu.Unlock()
	})
}

// route replaces names in a path by placeholders: /masterdoctorindex-1/_bulk becomes
// /{index}/_bulk, so the summary stays a few lines long.
func route(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		switch {
		case s == "" || strings.HasPrefix(s, "_"):
		case i == 0:
			segs[i] = "{index}"
		case s != "indices" && s != "scroll":
			segs[i] = "{name}"
		}
	}
	return "/" + strings.Join(segs, "/")
}

// take returns the summary since the previous call ("" when there was no request) and
// resets the period's counters.
func (st *stats) take() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.n == 0 {
		return ""
	}
	keys := make([]string, 0, len(st.counts))
	for k := range st.counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if st.counts[keys[i]] != st.counts[keys[j]] {
			return st.counts[keys[i]] > st.counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, st.counts[k])
	}
	line := fmt.Sprintf("%d requests, %d errors: %s", st.n, st.errs, strings.Join(parts, ", "))
	st.counts, st.n, st.errs = map[string]int{}, 0, 0
	return line
}
