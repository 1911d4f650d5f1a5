package estest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrollCtx is a scroll's point-in-time snapshot of the matched documents, as
// Elasticsearch keeps a search context open between scroll requests. Stored documents are
// never changed in place, so the snapshot holds them by pointer: later writes, refreshes
// and deletes do not show through it.
type scrollCtx struct {
	hits      []hitRef
	indices   map[*index]bool // the context is freed when one of them is deleted
	pos       int
	pageSize  int
	fetch     fetch
	keepAlive time.Duration
	expires   time.Time
}

// maxKeepAlive is search.max_keep_alive's default.
const maxKeepAlive = 24 * time.Hour

// parseKeepAlive parses a scroll keep-alive time value ("1m", "30s", "500ms").
func parseKeepAlive(v string) (time.Duration, *esErr) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(strings.ToLower(strings.TrimSpace(v)), u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 {
				break
			}
			d := time.Duration(n) * u.d
			if d > maxKeepAlive {
				return 0, newErr(400, "illegal_argument_exception",
					"Keep alive for request (%s) is too large. It must be less than (1d). This limit can be set by changing the [search.max_keep_alive] cluster level setting.", v)
			}
			return d, nil
		}
	}
	return 0, newErr(400, "parse_exception",
		"failed to parse setting [scroll] with value [%s] as a time value: unit is missing or unrecognized", v)
}

func parseSourceFilter(v any) (bool, []string, *esErr) {
	list := func(raw any) ([]string, *esErr) {
		switch x := raw.(type) {
		case string:
			return []string{x}, nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, parseErr("[_source] includes must be strings")
				}
				out = append(out, s)
			}
			return out, nil
		}
		return nil, parseErr("[_source] unsupported value")
	}
	switch x := v.(type) {
	case bool:
		return x, nil, nil
	case string, []any:
		inc, e := list(x)
		return true, inc, e
	case map[string]any:
		for k := range x {
			if k != "includes" && k != "include" {
				return false, nil, unsupported("_source filtering with [%s]", k)
			}
		}
		raw, ok := x["includes"]
		if !ok {
			raw = x["include"]
		}
		if raw == nil {
			return true, nil, nil
		}
		inc, e := list(raw)
		return true, inc, e
	}
	return false, nil, parseErr("[_source] unsupported value")
}

// filterSource applies _source includes as Elasticsearch does: a pattern matches full
// dotted paths ("*" matches any characters, dots included), a matched object is kept
// whole, and objects (or arrays of objects) are kept with their matching fields. nil
// includes keep everything. The stored source is not changed.
func filterSource(src map[string]any, includes []string) map[string]any {
	if len(includes) == 0 {
		return src
	}
	simple := true
	for _, inc := range includes {
		if strings.ContainsAny(inc, ".*") {
			simple = false
			break
		}
	}
	if simple { // top-level names only: direct lookups (a scan maps 300 000 documents)
		out := make(map[string]any, len(includes))
		for _, inc := range includes {
			if v, ok := src[inc]; ok {
				out[inc] = v
			}
		}
		return out
	}
	return filterObject(src, "", includes)
}

func filterObject(m map[string]any, prefix string, includes []string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		p := prefix + k
		below := false
		keep := false
		for _, inc := range includes {
			if simpleMatch(inc, p) {
				keep = true
				break
			}
			if strings.HasPrefix(inc, p+".") || strings.Contains(inc, "*") {
				below = true
			}
		}
		switch {
		case keep:
			out[k] = v
		case !below:
		default:
			switch x := v.(type) {
			case map[string]any:
				if sub := filterObject(x, p+".", includes); len(sub) > 0 {
					out[k] = sub
				}
			case []any:
				var arr []any
				for _, e := range x {
					if em, ok := e.(map[string]any); ok {
						if sub := filterObject(em, p+".", includes); len(sub) > 0 {
							arr = append(arr, sub)
						}
					}
				}
				if len(arr) > 0 {
					out[k] = arr
				}
			}
		}
	}
	return out
}

// simpleMatch is Elasticsearch's Regex.simpleMatch: "*" matches any run of characters.
func simpleMatch(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	rest, s := pattern[star+1:], s[star:]
	if rest == "" {
		return true
	}
	for i := 0; i <= len(s); i++ {
		if simpleMatch(rest, s[i:]) {
			return true
		}
	}
	return false
}

// scrollPrefix marks estest scroll ids inside their base64 form; an id without it cannot
// be parsed, as Elasticsearch answers for a malformed id.
const scrollPrefix = "estest-scroll:"

func newScrollID() string {
	return base64.RawURLEncoding.EncodeToString([]byte(scrollPrefix + randomID(22)))
}

func validScrollID(id string) bool {
	b, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil && strings.HasPrefix(string(b), scrollPrefix)
}

func cannotParseScrollID() *esErr {
	return newErr(400, "illegal_argument_exception", "Cannot parse scroll id")
}

// contextMissing is what Elasticsearch answers for an unknown or expired scroll id.
func contextMissing(id string) *esErr {
	return newErr(404, "search_phase_execution_exception", "all shards failed").with("phase", "query").
		cause(newErr(404, "search_context_missing_exception", "No search context found for id [%s]", id))
}

// expireScrolls frees the contexts whose keep-alive has passed or whose index was deleted.
func (s *server) expireScrolls(now time.Time) {
	for id, sc := range s.scrolls {
		if now.After(sc.expires) || !s.indicesAlive(sc) {
			delete(s.scrolls, id)
		}
	}
}

func (s *server) indicesAlive(sc *scrollCtx) bool {
	for ix := range sc.indices {
		if s.indices[ix.name] != ix {
			return false
		}
	}
	return true
}

func (s *server) scrollStart(w http.ResponseWriter, r *http.Request, hits []hitRef, f fetch, pageSize int, keepAlive time.Duration) *esErr {
	now := time.Now()
	s.expireScrolls(now)
	if pageSize < 0 {
		pageSize = 10
	}
	sc := &scrollCtx{hits: hits, indices: map[*index]bool{}, pageSize: pageSize, fetch: f,
		keepAlive: keepAlive, expires: now.Add(keepAlive)}
	for _, h := range hits {
		sc.indices[h.ix] = true
	}
	id := newScrollID()
	s.scrolls[id] = sc
	s.writeScrollPage(w, r, id, sc)
	return nil
}

func (s *server) writeScrollPage(w http.ResponseWriter, r *http.Request, id string, sc *scrollCtx) {
	end := min(sc.pos+sc.pageSize, len(sc.hits))
	out := make([]hitJSON, 0, end-sc.pos)
	for i := sc.pos; i < end; i++ {
		out = append(out, sc.fetch.hit(sc.hits[i], i))
	}
	sc.pos = end
	var maxScore any
	if len(out) > 0 && !sc.fetch.byDoc {
		maxScore = 1.0
	}
	writeJSON(w, 200, map[string]any{"_scroll_id": id, "took": 1, "timed_out": false, "_shards": shardsOK,
		"hits": map[string]any{"total": hitsTotal(r, len(sc.hits), "eq"), "max_score": maxScore, "hits": out}})
}

// scrollParams reads the scroll ids (body "scroll_id" string or array, the scroll_id
// URL parameter, or the deprecated path form) and the optional "scroll" keep-alive.
func scrollParams(r *http.Request, pathIDs []string, body []byte) (ids []string, keepAlive string, e *esErr) {
	var req map[string]any
	if e := decodeJSON(body, &req); e != nil {
		return nil, "", e
	}
	for k := range req {
		if k != "scroll_id" && k != "scroll" {
			return nil, "", parseErr("Unknown parameter [%s] in request body or parameter is of the wrong type[VALUE_STRING] ", k)
		}
	}
	switch x := req["scroll_id"].(type) {
	case string:
		ids = append(ids, x)
	case []any:
		for _, e := range x {
			ids = append(ids, fmt.Sprint(e))
		}
	}
	for _, p := range pathIDs {
		ids = append(ids, strings.Split(p, ",")...)
	}
	if q := r.URL.Query().Get("scroll_id"); q != "" {
		ids = append(ids, strings.Split(q, ",")...)
	}
	keepAlive = r.URL.Query().Get("scroll")
	if v, ok := req["scroll"].(string); ok {
		keepAlive = v
	}
	return ids, keepAlive, nil
}

func (s *server) scrollNext(w http.ResponseWriter, r *http.Request, pathIDs []string, body []byte) *esErr {
	if e := checkParams(r, "scroll", "scroll_id", "rest_total_hits_as_int"); e != nil {
		return e
	}
	ids, keep, e := scrollParams(r, pathIDs, body)
	if e != nil {
		return e
	}
	if len(ids) != 1 || ids[0] == "" {
		return newErr(400, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;")
	}
	id := ids[0]
	if !validScrollID(id) {
		return cannotParseScrollID()
	}
	now := time.Now()
	s.expireScrolls(now)
	sc, ok := s.scrolls[id]
	if !ok {
		return contextMissing(id)
	}
	if keep != "" {
		d, e := parseKeepAlive(keep)
		if e != nil {
			return e
		}
		sc.keepAlive = d
	}
	sc.expires = now.Add(sc.keepAlive)
	s.writeScrollPage(w, r, id, sc)
	return nil
}

func (s *server) scrollClear(w http.ResponseWriter, r *http.Request, pathIDs []string, body []byte) *esErr {
	if e := checkParams(r, "scroll_id"); e != nil {
		return e
	}
	ids, _, e := scrollParams(r, pathIDs, body)
	if e != nil {
		return e
	}
	if len(ids) == 0 {
		return newErr(400, "action_request_validation_exception", "Validation Failed: 1: no scroll ids specified;")
	}
	for _, id := range ids {
		if id != "_all" && !validScrollID(id) {
			return cannotParseScrollID()
		}
	}
	s.expireScrolls(time.Now())
	freed := 0
	for _, id := range ids {
		if id == "_all" {
			freed += len(s.scrolls)
			clear(s.scrolls)
			continue
		}
		if _, ok := s.scrolls[id]; ok {
			delete(s.scrolls, id)
			freed++
		}
	}
	status := 200
	if freed == 0 {
		status = 404
	}
	writeJSON(w, status, map[string]any{"succeeded": true, "num_freed": freed})
	return nil
}
