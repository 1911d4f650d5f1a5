package estest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Raw-HTTP tests of estest-specific behaviour (gap reporting, error shapes)
// that the esclient contract suite cannot reach through the client.

func do(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, &m), string(b))
	}
	return res.StatusCode, m
}

func errType(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func TestUnknownRouteIs400WithESShape(t *testing.T) {
	u := Start(t)
	code, m := do(t, "GET", u+"/_nodes/stats", "")
	assert.Equal(t, 400, code)
	assert.Equal(t, "illegal_argument_exception", errType(m))
	assert.Contains(t, m["error"].(map[string]any)["reason"], "estest:")
	assert.Len(t, m["error"].(map[string]any)["root_cause"], 1)
	assert.EqualValues(t, 400, m["status"])
}

func TestErrorShapes(t *testing.T) {
	u := Start(t)
	code, m := do(t, "DELETE", u+"/x", "")
	assert.Equal(t, 404, code)
	assert.Equal(t, "index_not_found_exception", errType(m))
	assert.Equal(t, "no such index [x]", m["error"].(map[string]any)["reason"])
	assert.Equal(t, "x", m["error"].(map[string]any)["index"])

	code, m = do(t, "GET", u+"/_alias/x", "")
	assert.Equal(t, 404, code)
	assert.Equal(t, "alias [x] missing", m["error"])

	code, m = do(t, "PUT", u+"/Upper", "")
	assert.Equal(t, 400, code)
	assert.Equal(t, "invalid_index_name_exception", errType(m))

	code, m = do(t, "PUT", u+"/t", `{"mappings":{"_doc":{"properties":{}}}}`)
	assert.Equal(t, 400, code)
	assert.Equal(t, "mapper_parsing_exception", errType(m))
}

func TestAliasFilterValidation(t *testing.T) {
	u := Start(t)
	code, _ := do(t, "PUT", u+"/i", `{"mappings":{"properties":{"a":{"type":"keyword"}}}}`)
	require.Equal(t, 200, code)
	code, m := do(t, "POST", u+"/_aliases",
		`{"actions":[{"add":{"index":"i","alias":"ok"}},{"add":{"index":"i","alias":"s","filter":{"script":{"script":"doc['a'].value.length() > 1"}}}}]}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, m["error"].(map[string]any)["reason"], "estest: unsupported script")
	code, _ = do(t, "GET", u+"/_alias/ok", "")
	assert.Equal(t, 404, code, "nothing applied")

	// doc[] of an unmapped field fails at search time, as in Painless.
	code, _ = do(t, "POST", u+"/_aliases",
		`{"actions":[{"add":{"index":"i","alias":"d","filter":{"script":{"script":{"source":"doc['b.keyword'] != doc['a']","lang":"painless"}}}}}]}`)
	require.Equal(t, 200, code)
	code, _ = do(t, "POST", u+"/i/_bulk?refresh=true", "{\"index\":{\"_id\":\"1\"}}\n{\"a\":\"x\"}\n")
	require.Equal(t, 200, code)
	code, m = do(t, "POST", u+"/d/_count", "")
	assert.Equal(t, 400, code)
	assert.Equal(t, "search_phase_execution_exception", errType(m))
}

func TestBulkRequestValidation(t *testing.T) {
	u := Start(t)
	code, m := do(t, "POST", u+"/i/_bulk", "{\"index\":{\"_id\":\"1\"}}\n{\"a\":1}")
	assert.Equal(t, 400, code)
	assert.Contains(t, m["error"].(map[string]any)["reason"], "terminated by a newline")

	// auto-create with dynamic mapping, then a type conflict on the dynamic long
	code, m = do(t, "POST", u+"/i/_bulk", "{\"index\":{\"_id\":\"1\"}}\n{\"n\":1}\n{\"index\":{\"_id\":\"2\"}}\n{\"n\":\"x\"}\n{\"update\":{\"_id\":\"3\"}}\n{\"doc\":{\"n\":2}}\n")
	require.Equal(t, 200, code)
	assert.Equal(t, true, m["errors"])
	items := m["items"].([]any)
	st := func(i int, op string) any { return items[i].(map[string]any)[op].(map[string]any)["status"] }
	assert.EqualValues(t, 201, st(0, "index"))
	assert.EqualValues(t, 400, st(1, "index"))
	assert.EqualValues(t, 404, st(2, "update"), "document_missing_exception without doc_as_upsert")
}

// bulkDocs indexes n documents {"n": i, "even": i%2==0} into index with refresh.
func bulkDocs(t *testing.T, u, index string, from, n int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "{\"index\":{\"_id\":\"%d\"}}\n{\"n\":%d,\"even\":%t,\"name\":\"doc %d\"}\n", i, i, i%2 == 0, i)
	}
	code, m := do(t, "POST", u+"/"+index+"/_bulk?refresh=true", b.String())
	require.Equal(t, 200, code, "%v", m)
	require.Equal(t, false, m["errors"], "%v", m)
}

func hitsOf(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, h := range m["hits"].(map[string]any)["hits"].([]any) {
		out = append(out, h.(map[string]any))
	}
	return out
}

func rootCause(m map[string]any) string {
	rc := m["error"].(map[string]any)["root_cause"].([]any)
	return rc[0].(map[string]any)["type"].(string)
}

func TestScrollPagesASnapshotAndClears(t *testing.T) {
	u := Start(t)
	bulkDocs(t, u, "i", 0, 25)
	code, m := do(t, "POST", u+"/i/_search?scroll=1m&size=10", `{"sort":["_doc"],"_source":{"includes":["n"]}}`)
	require.Equal(t, 200, code, "%v", m)
	id, _ := m["_scroll_id"].(string)
	require.NotEmpty(t, id)
	assert.EqualValues(t, 25, m["hits"].(map[string]any)["total"].(map[string]any)["value"])
	seen := map[string]bool{}
	page := hitsOf(m)
	assert.Len(t, page, 10)
	assert.Nil(t, page[0]["_score"], "sorted by _doc: no score")
	// Later writes, deletes and refreshes do not show through the snapshot.
	bulkDocs(t, u, "i", 25, 5)
	code, _ = do(t, "POST", u+"/i/_bulk?refresh=true", "{\"delete\":{\"_id\":\"20\"}}\n")
	require.Equal(t, 200, code)
	for len(page) > 0 {
		for _, h := range page {
			assert.False(t, seen[h["_id"].(string)], "hit %s twice", h["_id"])
			seen[h["_id"].(string)] = true
			assert.Equal(t, []string{"n"}, keys(h["_source"].(map[string]any)))
		}
		code, m = do(t, "POST", u+"/_search/scroll", `{"scroll":"1m","scroll_id":"`+id+`"}`)
		require.Equal(t, 200, code, "%v", m)
		page = hitsOf(m)
	}
	assert.Len(t, seen, 25)
	assert.True(t, seen["20"])
	assert.False(t, seen["25"])

	// Other forms of the next request: GET with the id as a parameter or in the path.
	code, _ = do(t, "GET", u+"/_search/scroll?scroll=1m&scroll_id="+id, "")
	assert.Equal(t, 200, code)
	code, _ = do(t, "GET", u+"/_search/scroll/"+id, "")
	assert.Equal(t, 200, code)

	code, m = do(t, "DELETE", u+"/_search/scroll", `{"scroll_id":["`+id+`"]}`)
	assert.Equal(t, 200, code)
	assert.Equal(t, map[string]any{"succeeded": true, "num_freed": 1.0}, m)
	code, m = do(t, "DELETE", u+"/_search/scroll", `{"scroll_id":"`+id+`"}`)
	assert.Equal(t, 404, code)
	assert.EqualValues(t, 0, m["num_freed"])
	code, m = do(t, "POST", u+"/_search/scroll", `{"scroll_id":"`+id+`"}`)
	assert.Equal(t, 404, code)
	assert.Equal(t, "search_context_missing_exception", rootCause(m))

	// Path and _all forms of clear.
	_, m = do(t, "POST", u+"/i/_search?scroll=1m", "")
	id1 := m["_scroll_id"].(string)
	_, m = do(t, "POST", u+"/i/_search?scroll=1m", "")
	id2 := m["_scroll_id"].(string)
	_, m = do(t, "POST", u+"/i/_search?scroll=1m", "")
	code, m2 := do(t, "DELETE", u+"/_search/scroll/"+id1, "")
	assert.Equal(t, 200, code)
	assert.EqualValues(t, 1, m2["num_freed"])
	code, m2 = do(t, "DELETE", u+"/_search/scroll/_all", "")
	assert.Equal(t, 200, code)
	assert.EqualValues(t, 2, m2["num_freed"])
	code, _ = do(t, "POST", u+"/_search/scroll", `{"scroll_id":"`+id2+`"}`)
	assert.Equal(t, 404, code)
	assert.NotEqual(t, id1, m["_scroll_id"])
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestScrollErrors(t *testing.T) {
	u := Start(t)
	bulkDocs(t, u, "i", 0, 3)
	code, m := do(t, "POST", u+"/_search/scroll", `{"scroll":"1m","scroll_id":"not-a-scroll-id"}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, m["error"].(map[string]any)["reason"], "Cannot parse scroll id")
	code, _ = do(t, "DELETE", u+"/_search/scroll", `{"scroll_id":["not-a-scroll-id"]}`)
	assert.Equal(t, 400, code)
	code, _ = do(t, "POST", u+"/_search/scroll", `{"scroll":"1m"}`)
	assert.Equal(t, 400, code, "no scroll id")

	code, m = do(t, "POST", u+"/missing/_search?scroll=1m", "")
	assert.Equal(t, 404, code)
	assert.Equal(t, "index_not_found_exception", errType(m))
	for _, c := range []struct{ query, body, typ string }{
		{"scroll=1m&from=1", "", "action_request_validation_exception"},
		{"scroll=1m", `{"from":1}`, "action_request_validation_exception"},
		{"scroll=1m&size=0", "", "action_request_validation_exception"},
		{"scroll=1m", `{"size":10001}`, "search_phase_execution_exception"},
		{"scroll=1x", "", "parse_exception"},
		{"scroll=2d", "", "illegal_argument_exception"},
		{"", `{"from":9995,"size":10}`, "search_phase_execution_exception"},
		{"scroll=1m", `{"sort":[{"n":"asc"}]}`, "illegal_argument_exception"},
	} {
		code, m = do(t, "POST", u+"/i/_search?"+c.query, c.body)
		assert.Equal(t, 400, code, "%s %s", c.query, c.body)
		assert.Equal(t, c.typ, errType(m), "%s %s: %v", c.query, c.body, m)
	}

	// An expired keep-alive and a deleted index free the context.
	_, m = do(t, "POST", u+"/i/_search?scroll=1ms&size=1", "")
	expired := m["_scroll_id"].(string)
	_, m = do(t, "POST", u+"/i/_search?scroll=1m&size=1", "")
	onDeleted := m["_scroll_id"].(string)
	time.Sleep(5 * time.Millisecond)
	code, _ = do(t, "POST", u+"/_search/scroll", `{"scroll_id":"`+expired+`"}`)
	assert.Equal(t, 404, code)
	code, _ = do(t, "DELETE", u+"/i", "")
	require.Equal(t, 200, code)
	code, m = do(t, "POST", u+"/_search/scroll", `{"scroll":"1m","scroll_id":"`+onDeleted+`"}`)
	assert.Equal(t, 404, code)
	assert.Equal(t, "search_context_missing_exception", rootCause(m))
}

func TestSearchSourceFiltering(t *testing.T) {
	u := Start(t)
	code, _ := do(t, "POST", u+"/i/_bulk?refresh=true",
		"{\"index\":{\"_id\":\"1\"}}\n{\"a\":1,\"ab\":2,\"b\":{\"c\":3,\"d\":4},\"e\":[{\"f\":5,\"g\":6}]}\n")
	require.Equal(t, 200, code)
	src := func(source string) any {
		t.Helper()
		code, m := do(t, "POST", u+"/i/_search", `{"_source":`+source+`}`)
		require.Equal(t, 200, code, "%v", m)
		return hitsOf(m)[0]["_source"]
	}
	assert.Nil(t, src(`false`))
	assert.Len(t, src(`true`), 4)
	assert.Equal(t, map[string]any{"a": 1.0}, src(`"a"`))
	assert.Equal(t, map[string]any{"a": 1.0, "ab": 2.0}, src(`["a","ab"]`))
	assert.Equal(t, map[string]any{"a": 1.0, "ab": 2.0}, src(`{"includes":["a*"]}`))
	assert.Equal(t, map[string]any{"b": map[string]any{"c": 3.0, "d": 4.0}}, src(`["b"]`))
	assert.Equal(t, map[string]any{"b": map[string]any{"d": 4.0}, "e": []any{map[string]any{"g": 6.0}}}, src(`["b.d","e.g"]`))
	assert.Equal(t, map[string]any{}, src(`["nothing"]`))
	code, m := do(t, "POST", u+"/i/_search", `{"_source":{"excludes":["a"]}}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, m["error"].(map[string]any)["reason"], "estest:")
	code, m = do(t, "POST", u+"/i/_search?rest_total_hits_as_int=true", `{"sort":["_doc"]}`)
	require.Equal(t, 200, code)
	assert.EqualValues(t, 1, m["hits"].(map[string]any)["total"])
	assert.Equal(t, []any{0.0}, hitsOf(m)[0]["sort"])
}

func TestCountsFollowWritesAliasesAndMappings(t *testing.T) {
	u := Start(t)
	count := func(path, body string) float64 {
		t.Helper()
		code, m := do(t, "POST", u+path+"/_count", body)
		require.Equal(t, 200, code, "%v", m)
		return m["count"].(float64)
	}
	even := `{"query":{"term":{"even":true}}}`
	bulkDocs(t, u, "i", 0, 10)
	code, _ := do(t, "POST", u+"/_aliases", `{"actions":[{"add":{"index":"i","alias":"evens","filter":{"term":{"even":true}}}}]}`)
	require.Equal(t, 200, code)
	assert.Equal(t, 5.0, count("/i", even))
	assert.Equal(t, 5.0, count("/evens", ""))
	assert.Equal(t, 5.0, count("/i", even), "cached")
	bulkDocs(t, u, "i", 10, 5) // only additions: the cached count is extended
	assert.Equal(t, 8.0, count("/i", even))
	assert.Equal(t, 8.0, count("/evens", ""))
	// Writes are invisible until a refresh, cached or not.
	code, _ = do(t, "POST", u+"/i/_bulk", "{\"delete\":{\"_id\":\"0\"}}\n{\"update\":{\"_id\":\"1\"}}\n{\"doc\":{\"even\":true}}\n")
	require.Equal(t, 200, code)
	assert.Equal(t, 8.0, count("/i", even))
	code, _ = do(t, "POST", u+"/i/_refresh", "")
	require.Equal(t, 200, code)
	assert.Equal(t, 8.0, count("/i", even), "0 deleted, 1 now even")
	assert.Equal(t, 14.0, count("/i", ""))
	// Replacing the alias filter changes the count.
	code, _ = do(t, "POST", u+"/_aliases", `{"actions":[{"add":{"index":"i","alias":"evens","filter":{"term":{"even":false}}}}]}`)
	require.Equal(t, 200, code)
	assert.Equal(t, 6.0, count("/evens", ""))
	// A new dynamic field is mapped by the write that brings it.
	assert.Equal(t, 0.0, count("/i", `{"query":{"exists":{"field":"late"}}}`))
	code, _ = do(t, "POST", u+"/i/_bulk?refresh=true", "{\"index\":{\"_id\":\"x\"}}\n{\"late\":\"yes\"}\n")
	require.Equal(t, 200, code)
	assert.Equal(t, 1.0, count("/i", `{"query":{"exists":{"field":"late"}}}`))
}

func TestRefreshKeepsCreationOrder(t *testing.T) {
	u := Start(t)
	ids := func() []string {
		t.Helper()
		code, m := do(t, "POST", u+"/i/_search", `{"_source":false}`)
		require.Equal(t, 200, code, "%v", m)
		var out []string
		for _, h := range hitsOf(m) {
			out = append(out, h["_id"].(string))
		}
		return out
	}
	bulkDocs(t, u, "i", 0, 4)
	assert.Equal(t, []string{"0", "1", "2", "3"}, ids())
	code, _ := do(t, "POST", u+"/i/_bulk?refresh=true",
		"{\"delete\":{\"_id\":\"1\"}}\n{\"index\":{\"_id\":\"4\"}}\n{}\n{\"index\":{\"_id\":\"1\"}}\n{}\n{\"index\":{\"_id\":\"0\"}}\n{\"n\":9}\n")
	require.Equal(t, 200, code)
	assert.Equal(t, []string{"0", "2", "3", "4", "1"}, ids(), "updated 0 keeps its place, re-created 1 is new")
}

func TestBulkIsParsedBeforeAnythingIsApplied(t *testing.T) {
	u := Start(t)
	code, m := do(t, "POST", u+"/i/_bulk", "{\"index\":{\"_id\":\"1\"}}\n{\"a\":1}\n{\"index\":{\"_id\":\"2\"}\n{\"a\":2}\n")
	assert.Equal(t, 400, code)
	assert.Contains(t, m["error"].(map[string]any)["reason"], "Malformed action/metadata line [3]")
	code, _ = do(t, "HEAD", u+"/i", "")
	assert.Equal(t, 404, code, "not even auto-created")

	// A source that is not JSON fails its item only.
	code, m = do(t, "POST", u+"/i/_bulk?refresh=true", "{\"index\":{\"_id\":\"1\"}}\n{\"a\":\n{\"index\":{\"_id\":\"2\"}}\n{\"a\":\"\\u00e9\"}\n")
	require.Equal(t, 200, code, "%v", m)
	assert.Equal(t, true, m["errors"])
	items := m["items"].([]any)
	assert.EqualValues(t, 400, items[0].(map[string]any)["index"].(map[string]any)["status"])
	assert.Equal(t, "mapper_parsing_exception", items[0].(map[string]any)["index"].(map[string]any)["error"].(map[string]any)["type"])
	assert.EqualValues(t, 201, items[1].(map[string]any)["index"].(map[string]any)["status"])
	code, m = do(t, "POST", u+"/i/_search", "")
	require.Equal(t, 200, code)
	assert.Equal(t, map[string]any{"a": "é"}, hitsOf(m)[0]["_source"])
}

func TestNewHandlerServesWithoutATest(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	ts := httptest.NewServer(NewHandler(func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}))
	defer ts.Close()
	code, m := do(t, "GET", ts.URL, "")
	require.Equal(t, 200, code)
	assert.Equal(t, Version, m["version"].(map[string]any)["number"])
	code, _ = do(t, "GET", ts.URL+"/_nodes/stats", "")
	assert.Equal(t, 400, code)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, logged, 1)
	assert.Contains(t, logged[0], "estest: GET /_nodes/stats -> 400")

	quiet := httptest.NewServer(NewHandler(nil)) // a nil logf is fine
	defer quiet.Close()
	code, _ = do(t, "GET", quiet.URL+"/_nodes/stats", "")
	assert.Equal(t, 400, code)
}
