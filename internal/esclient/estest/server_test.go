package estest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
