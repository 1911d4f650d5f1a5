package privateserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// OpenSearch is a private single-node OpenSearch started like the stack's
// (scripts/opensearch/OpsflowOpenSearch.java over the resolved jars), with its own data
// directory (indices survive a restart), HTTP and transport ports, and a smaller heap. Its JVM
// takes 10-60 s to answer: start one per test function and share it between its subtests.
type OpenSearch struct {
	*Server
	// URL is http://127.0.0.1:<port>.
	URL string
}

// StartOpenSearch starts a private OpenSearch (heap $OPSFLOW_PRIVATE_OPENSEARCH_HEAP, default
// 512m) and waits until the cluster is at least yellow; like the stack's, every index it makes
// gets 0 replicas (one node cannot place them), so it is green.
func StartOpenSearch(t testing.TB) *OpenSearch {
	t.Helper()
	java, jars := javaBinary(t), jarsDir(t, "opensearch")
	root := repoRoot()
	dir := t.TempDir()
	home, data := filepath.Join(dir, "home"), filepath.Join(dir, "data")
	for _, d := range []string{filepath.Join(home, "config"), filepath.Join(home, "logs"), data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	heap := os.Getenv("OPSFLOW_PRIVATE_OPENSEARCH_HEAP")
	if heap == "" {
		heap = "512m"
	}
	port, transport := freePort(t), freePort(t)
	o := &OpenSearch{URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	argv := []string{java, "-Xms" + heap, "-Xmx" + heap, "-XX:+UseG1GC", "-Dfile.encoding=UTF-8", "-Djava.io.tmpdir=" + dir,
		"-Dopensearch.set.netty.runtime.available.processors=false", "-Dio.netty.allocator.numDirectArenas=0",
		"-Dlog4j2.configurationFile=" + filepath.Join(root, "scripts", "opensearch", "log4j2.properties"),
		"-cp", jars + "/*", filepath.Join(root, "scripts", "opensearch", "OpsflowOpenSearch.java"),
		home, data, "127.0.0.1", fmt.Sprint(port), fmt.Sprint(transport)}
	o.Server = newServer(t, "opensearch", dir, argv, baseEnv("JAVA_TOOL_OPTIONS=", "OPENSEARCH_"), o.ready, 3*time.Minute, 30*time.Second)
	o.Start()
	o.put(t, "/_index_template/opsflow-private-single-node",
		`{"index_patterns":["*"],"priority":0,"template":{"settings":{"number_of_replicas":0}}}`)
	return o
}

// ready: the cluster is yellow or green and the node says it is OpenSearch.
func (o *OpenSearch) ready(ctx context.Context) error {
	var health struct {
		Status string `json:"status"`
	}
	if err := getJSON(ctx, o.URL+"/_cluster/health?wait_for_status=yellow&timeout=2s", &health); err != nil {
		return err
	}
	if health.Status != "green" && health.Status != "yellow" {
		return fmt.Errorf("cluster status %q", health.Status)
	}
	var info struct {
		Version struct {
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := getJSON(ctx, o.URL+"/", &info); err != nil {
		return err
	}
	if info.Version.Distribution != "opensearch" {
		return fmt.Errorf("%s answers as %q, not opensearch", o.URL, info.Version.Distribution)
	}
	return nil
}

func (o *OpenSearch) put(t testing.TB, path, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, o.URL+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("private OpenSearch: PUT %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("private OpenSearch: PUT %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(out)))
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
