package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
)

// devCluster is the cluster name of the stack's OpenSearch (scripts/opensearch): the one
// cluster the benchmark may wipe without being told it is disposable.
const devCluster = "opsflow-dev"

// engine is the search engine both sides write to: the real OpenSearch (or Elasticsearch) at
// OPSFLOW_ES_URL. The benchmark talks to it through esclient, except for GET / and the node
// stats, which esclient has no call for.
type engine struct {
	url     string // as configured, credentials included; never printed
	es      *esclient.Client
	http    *http.Client
	cluster string
	dist    string // "opensearch" or "elasticsearch"
	version string
	pid     int // the local process listening on the URL's port, 0 if none
}

// connectEngine checks the engine answers and may be wiped: before each side the benchmark
// deletes every masterdoctorindex* index, so it refuses any cluster but the stack's
// (opsflow-dev) unless OPSFLOW_ES_DISPOSABLE=true vouches for it.
func connectEngine(ctx context.Context, rawURL string) (*engine, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("OPSFLOW_ES_URL is not set: the benchmark needs the real search engine " +
			"(the stack's OpenSearch, http://127.0.0.1:9200); run it with `make bench`, which exports the stack's " +
			"OPSFLOW_* variables, or set OPSFLOW_ES_URL")
	}
	es, err := esclient.New(rawURL)
	if err != nil {
		return nil, err
	}
	e := &engine{url: strings.TrimRight(rawURL, "/"), es: es, http: &http.Client{Timeout: 30 * time.Second}}
	var info struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := e.get(ctx, "/", &info); err != nil {
		return nil, fmt.Errorf("search engine at %s (OPSFLOW_ES_URL) does not answer: %w (is the stack's OpenSearch up? scripts/stack status)", es.URL(), err)
	}
	e.cluster, e.version, e.dist = info.ClusterName, info.Version.Number, info.Version.Distribution
	if e.dist != "opensearch" {
		e.dist = "elasticsearch"
	}
	if e.cluster != devCluster && os.Getenv("OPSFLOW_ES_DISPOSABLE") != "true" {
		return nil, fmt.Errorf("the cluster at %s is %q, not the stack's %s: the benchmark deletes every masterdoctorindex* index "+
			"before each side and the sync moves the revalidation aliases; set OPSFLOW_ES_DISPOSABLE=true if it is a disposable cluster",
			es.URL(), e.cluster, devCluster)
	}
	e.pid = listeningPID(loopbackPort(rawURL))
	return e, nil
}

// String names the engine for the report.
func (e *engine) String() string {
	name := "OpenSearch"
	if e.dist != "opensearch" {
		name = "Elasticsearch"
	}
	s := fmt.Sprintf("%s %s, cluster %s, at %s (OPSFLOW_ES_URL)", name, e.version, e.cluster, e.es.URL())
	if e.pid > 0 {
		s += fmt.Sprintf(", pid %d (%s)", e.pid, commandName(e.pid))
	}
	return s
}

// get decodes the JSON answer of a GET on the engine.
func (e *engine) get(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.300s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, into)
}

// wipe deletes every masterdoctorindex* index (their aliases go with them), one by name: the
// stack's OpenSearch refuses wildcard deletes (action.destructive_requires_name). Both sides
// start from the same empty engine.
func (e *engine) wipe(ctx context.Context) error {
	all, err := e.es.ListIndices(ctx, reval.MasterDoctorAlias+"*")
	if err != nil {
		return err
	}
	for _, ix := range all {
		if err := e.es.DeleteIndex(ctx, ix.Name); err != nil && !esclient.IsNotFound(err) {
			return err
		}
	}
	if len(all) > 0 {
		say("search engine: deleted %d masterdoctorindex* indices", len(all))
	}
	return nil
}

// heap is the JVM heap of the engine's nodes (summed; the stack runs one node).
type heap struct {
	Used, Max int64
}

// jvmHeap reads heap_used_in_bytes and heap_max_in_bytes from GET /_nodes/stats/jvm.
func (e *engine) jvmHeap(ctx context.Context) (heap, error) {
	var stats struct {
		Nodes map[string]struct {
			JVM struct {
				Mem struct {
					HeapUsed int64 `json:"heap_used_in_bytes"`
					HeapMax  int64 `json:"heap_max_in_bytes"`
				} `json:"mem"`
			} `json:"jvm"`
		} `json:"nodes"`
	}
	if err := e.get(ctx, "/_nodes/stats/jvm", &stats); err != nil {
		return heap{}, err
	}
	var h heap
	for _, n := range stats.Nodes {
		h.Used += n.JVM.Mem.HeapUsed
		h.Max += n.JVM.Mem.HeapMax
	}
	return h, nil
}

// engineUse is what a side cost the engine: its JVM heap (sampled by the monitor, and at the
// end of the side) and its process's resident memory.
type engineUse struct {
	HeapPeak, HeapEnd, HeapMax int64
	RSSPeak                    int64 // largest VmRSS sampled during the side, 0 if not local
}
