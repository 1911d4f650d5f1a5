package estest

import (
	"fmt"
	"net/http"
	"strings"
)

// scrollCtx is a scroll's point-in-time snapshot of the matched hits, as Elasticsearch
// keeps a search context open between scroll requests.
type scrollCtx struct {
	hits     []map[string]any
	pos      int
	pageSize int
	total    int
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

// filterSource keeps the top-level fields named in includes (exact names or a trailing
// "*" prefix), as source filtering does for flat documents; nil includes keep all.
func filterSource(src map[string]any, includes []string) map[string]any {
	if len(includes) == 0 {
		return src
	}
	out := map[string]any{}
	for k, v := range src {
		for _, inc := range includes {
			if inc == k || (strings.HasSuffix(inc, "*") && strings.HasPrefix(k, strings.TrimSuffix(inc, "*"))) {
				out[k] = v
				break
			}
		}
	}
	return out
}

func (s *server) scrollStart(w http.ResponseWriter, hits []map[string]any, total, pageSize int) *esErr {
	if pageSize <= 0 {
		pageSize = 10
	}
	if s.scrolls == nil {
		s.scrolls = map[string]*scrollCtx{}
	}
	id := "estest-scroll-" + randomID(16)
	sc := &scrollCtx{hits: hits, pageSize: pageSize, total: total}
	s.scrolls[id] = sc
	s.writeScrollPage(w, id, sc)
	return nil
}

func (s *server) writeScrollPage(w http.ResponseWriter, id string, sc *scrollCtx) {
	end := min(sc.pos+sc.pageSize, len(sc.hits))
	page := sc.hits[sc.pos:end]
	sc.pos = end
	var maxScore any
	if len(page) > 0 {
		maxScore = 1.0
	}
	out := make([]any, len(page))
	for i, h := range page {
		out[i] = h
	}
	writeJSON(w, 200, map[string]any{"_scroll_id": id, "took": 1, "timed_out": false, "_shards": shardsOK,
		"hits": map[string]any{"total": map[string]any{"value": sc.total, "relation": "eq"}, "max_score": maxScore, "hits": out}})
}

func scrollIDs(r *http.Request, body []byte) ([]string, *esErr) {
	var req map[string]any
	if e := decodeJSON(body, &req); e != nil {
		return nil, e
	}
	var ids []string
	switch x := req["scroll_id"].(type) {
	case string:
		ids = append(ids, x)
	case []any:
		for _, e := range x {
			ids = append(ids, fmt.Sprint(e))
		}
	}
	if q := r.URL.Query().Get("scroll_id"); q != "" {
		ids = append(ids, strings.Split(q, ",")...)
	}
	return ids, nil
}

func (s *server) scrollNext(w http.ResponseWriter, r *http.Request, body []byte) *esErr {
	if e := checkParams(r, "scroll", "scroll_id", "rest_total_hits_as_int"); e != nil {
		return e
	}
	ids, e := scrollIDs(r, body)
	if e != nil {
		return e
	}
	if len(ids) != 1 {
		return newErr(400, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;")
	}
	sc, ok := s.scrolls[ids[0]]
	if !ok {
		return newErr(404, "search_context_missing_exception", "No search context found for id [%s]", ids[0])
	}
	s.writeScrollPage(w, ids[0], sc)
	return nil
}

func (s *server) scrollClear(w http.ResponseWriter, r *http.Request, body []byte) *esErr {
	ids, e := scrollIDs(r, body)
	if e != nil {
		return e
	}
	freed := 0
	for _, id := range ids {
		if id == "_all" {
			freed += len(s.scrolls)
			s.scrolls = map[string]*scrollCtx{}
			continue
		}
		if _, ok := s.scrolls[id]; ok {
			delete(s.scrolls, id)
			freed++
		}
	}
	status := 200
	if freed == 0 && len(ids) > 0 {
		status = 404
	}
	writeJSON(w, status, map[string]any{"succeeded": true, "num_freed": freed})
	return nil
}
