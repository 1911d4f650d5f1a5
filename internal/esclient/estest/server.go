package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Elasticsearch version the server claims to be.
const Version = "7.17.0"

type document struct {
	id      string
	source  map[string]any
	version int64
	seqNo   int64
	order   int64 // first creation; gives a stable hit order
}

type alias struct {
	filterRaw    any
	filter       query // nil: unfiltered
	isWriteIndex *bool
}

type index struct {
	name     string
	uuid     string
	created  time.Time
	settings map[string]any
	mapping  *field
	docs     map[string]*document // latest writes
	visible  []*document          // as of the last refresh, in order
	aliases  map[string]*alias
	seqNo    int64
	dirty    bool
}

type server struct {
	t       testing.TB
	log     func(format string, args ...any)
	mu      sync.Mutex
	scrolls map[string]*scrollCtx
	indices map[string]*index
	order   int64
	lastMS  int64
	done    bool
}

// Start runs the test server on 127.0.0.1 and returns its base URL. State
// lives in memory and is discarded on t.Cleanup. It is for tests only.
func Start(t testing.TB) string {
	t.Helper()
	s := &server{t: t, indices: map[string]*index{}}
	ts := httptest.NewUnstartedServer(s)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("estest: listen: %v", err)
	}
	ts.Listener = l
	ts.Start()
	t.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
		ts.Close()
	})
	return ts.URL
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func (s *server) logf(format string, args ...any) {
	switch {
	case s.done:
	case s.t != nil:
		s.t.Logf("estest: "+format, args...)
	case s.log != nil:
		s.log("estest: "+format, args...)
	}
}

// NewHandler returns the test server as an http.Handler, for running it as a standalone
// process (estest-server) where Elasticsearch cannot be installed: the demo and the
// benchmark. State lives in memory; logf receives requests estest does not support.
func NewHandler(logf func(format string, args ...any)) http.Handler {
	return &server{log: logf, indices: map[string]*index{}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-elastic-product", "Elasticsearch")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) writeErr(w http.ResponseWriter, r *http.Request, e *esErr) {
	if strings.HasPrefix(e.reason, "estest:") || (e.causedBy != nil && strings.HasPrefix(e.causedBy.reason, "estest:")) {
		s.logf("%s %s -> %d %s", r.Method, r.URL.RequestURI(), e.status, e.reason)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	writeJSON(w, e.status, e.body())
}

// common URL parameters every route accepts.
var commonParams = map[string]bool{"pretty": true, "human": true, "error_trace": true}

func checkParams(r *http.Request, allowed ...string) *esErr {
	for k := range r.URL.Query() {
		if commonParams[k] {
			continue
		}
		ok := false
		for _, a := range allowed {
			if a == k {
				ok = true
			}
		}
		if !ok {
			return unsupported("request [%s] contains unrecognized parameter: [%s]", r.URL.Path, k)
		}
	}
	return nil
}

func decodeJSON(body []byte, v any) *esErr {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return newErr(400, "x_content_parse_exception", "failed to parse request body: %v", err)
	}
	return nil
}

// ServeHTTP routes the supported REST subset.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.Trim(r.URL.Path, "/")
	var segs []string
	if p != "" {
		segs = strings.Split(p, "/")
	}
	e := s.route(w, r, segs, body)
	if e != nil {
		s.writeErr(w, r, e)
	}
}

func (s *server) route(w http.ResponseWriter, r *http.Request, segs []string, body []byte) *esErr {
	m := r.Method
	is := func(methods ...string) bool {
		for _, x := range methods {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case len(segs) == 0 && is("GET", "HEAD"):
		return s.root(w, r)
	case len(segs) == 2 && segs[0] == "_search" && segs[1] == "scroll" && is("GET", "POST"):
		return s.scrollNext(w, r, body)
	case len(segs) == 2 && segs[0] == "_search" && segs[1] == "scroll" && is("DELETE"):
		return s.scrollClear(w, r, body)
	case len(segs) == 1 && segs[0] == "_bulk" && is("POST", "PUT"):
		return s.bulk(w, r, "", body)
	case len(segs) == 1 && segs[0] == "_aliases" && is("POST", "PUT"):
		return s.updateAliases(w, r, body)
	case len(segs) == 2 && segs[0] == "_alias" && is("GET", "HEAD"):
		return s.getAlias(w, r, segs[1])
	case len(segs) == 1 && segs[0] == "_alias" && is("GET"):
		return s.getAlias(w, r, "*")
	case len(segs) >= 2 && len(segs) <= 3 && segs[0] == "_cat" && segs[1] == "indices" && is("GET"):
		pattern := "*"
		if len(segs) == 3 {
			pattern = segs[2]
		}
		return s.catIndices(w, r, pattern)
	case len(segs) == 1 && (segs[0] == "_count" || segs[0] == "_search" || segs[0] == "_refresh"):
		return s.route(w, r, []string{"_all", segs[0]}, body)
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_") && is("PUT", "POST"):
		return s.createIndex(w, r, segs[0], body)
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_") && is("HEAD"):
		return s.indexExists(w, r, segs[0])
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_") && is("DELETE"):
		return s.deleteIndex(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "_bulk" && is("POST", "PUT"):
		return s.bulk(w, r, segs[0], body)
	case len(segs) == 2 && segs[1] == "_refresh" && is("POST", "GET"):
		return s.refresh(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "_count" && is("POST", "GET"):
		return s.search(w, r, segs[0], body, true)
	case len(segs) == 2 && segs[1] == "_search" && is("POST", "GET"):
		return s.search(w, r, segs[0], body, false)
	case len(segs) == 2 && segs[1] == "_mapping" && is("GET"):
		return s.getMapping(w, r, segs[0])
	}
	return unsupported("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), m)
}

func (s *server) root(w http.ResponseWriter, r *http.Request) *esErr {
	if r.Method == http.MethodHead {
		w.WriteHeader(200)
		return nil
	}
	writeJSON(w, 200, map[string]any{
		"name": "estest", "cluster_name": "estest", "cluster_uuid": "estest-cluster",
		"version": map[string]any{
			"number": Version, "build_flavor": "default", "build_type": "estest",
			"lucene_version": "8.11.1", "minimum_wire_compatibility_version": "6.8.0",
			"minimum_index_compatibility_version": "6.0.0-beta1",
		},
		"tagline": "You Know, for Search",
	})
	return nil
}

// ---- names and expressions ----

func validIndexName(name string) *esErr {
	bad := func(reason string) *esErr {
		return newErr(400, "invalid_index_name_exception", "Invalid index name [%s], %s", name, reason).with("index", name).with("index_uuid", "_na_")
	}
	switch {
	case name == "" || name == "." || name == "..":
		return bad("must not be empty, '.' or '..'")
	case strings.ToLower(name) != name:
		return bad("must be lowercase")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return bad(`must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`)
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return bad("must not start with '_', '-', or '+'")
	case len(name) > 255:
		return bad("index name is too long")
	}
	return nil
}

func (s *server) aliasExists(name string) bool {
	for _, ix := range s.indices {
		if _, ok := ix.aliases[name]; ok {
			return true
		}
	}
	return false
}

func isWildcard(s string) bool { return strings.Contains(s, "*") }

func globMatch(pattern, name string) bool {
	ok, _ := path.Match(strings.NewReplacer("?", `\?`, "[", `\[`).Replace(pattern), name)
	return ok
}

// target is one concrete index an expression resolved to; filters == nil
// means unfiltered access, otherwise documents must match any filter.
type target struct {
	ix      *index
	filters []query
}

// resolveExpr resolves a comma-separated expression of indices, aliases and
// wildcards (with -exclusions) as Elasticsearch does for search APIs.
func (s *server) resolveExpr(expr string, allowNoIndices bool) ([]target, *esErr) {
	type acc struct {
		unfiltered bool
		filters    []query
	}
	hits := map[string]*acc{}
	add := func(ix *index, f query) {
		a := hits[ix.name]
		if a == nil {
			a = &acc{}
			hits[ix.name] = a
		}
		if f == nil {
			a.unfiltered = true
		} else {
			a.filters = append(a.filters, f)
		}
	}
	for _, part := range strings.Split(expr, ",") {
		if part == "" {
			continue
		}
		if strings.HasPrefix(part, "-") {
			for name := range hits {
				if globMatch(part[1:], name) {
					delete(hits, name)
				}
			}
			continue
		}
		if part == "_all" || isWildcard(part) {
			pat := part
			if part == "_all" {
				pat = "*"
			}
			for _, ix := range s.indices {
				if globMatch(pat, ix.name) && !strings.HasPrefix(ix.name, ".") {
					add(ix, nil)
				}
				for an, al := range ix.aliases {
					if globMatch(pat, an) {
						add(ix, al.filter)
					}
				}
			}
			continue
		}
		if ix := s.indices[part]; ix != nil {
			add(ix, nil)
			continue
		}
		found := false
		for _, ix := range s.indices {
			if al, ok := ix.aliases[part]; ok {
				add(ix, al.filter)
				found = true
			}
		}
		if !found {
			return nil, indexNotFound(part)
		}
	}
	if len(hits) == 0 && !allowNoIndices {
		return nil, indexNotFound(expr)
	}
	names := make([]string, 0, len(hits))
	for n := range hits {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]target, 0, len(names))
	for _, n := range names {
		a := hits[n]
		t := target{ix: s.indices[n]}
		if !a.unfiltered {
			t.filters = a.filters
		}
		out = append(out, t)
	}
	return out, nil
}

// ---- indices ----

func (s *server) createdNow() time.Time {
	ms := time.Now().UnixMilli()
	if ms <= s.lastMS { // distinct creation dates, like a real cluster would (almost) always give
		ms = s.lastMS + 1
	}
	s.lastMS = ms
	return time.UnixMilli(ms)
}

func (s *server) newIndex(name string, settings map[string]any, mapping *field) *index {
	if settings == nil {
		settings = map[string]any{}
	}
	ix := &index{name: name, uuid: randomID(22), created: s.createdNow(), settings: settings,
		mapping: mapping, docs: map[string]*document{}, aliases: map[string]*alias{}}
	s.indices[name] = ix
	return ix
}

func (s *server) createIndex(w http.ResponseWriter, r *http.Request, name string, body []byte) *esErr {
	if e := checkParams(r, "include_type_name", "wait_for_active_shards", "timeout", "master_timeout"); e != nil {
		return e
	}
	if r.URL.Query().Get("include_type_name") == "true" {
		return unsupported("include_type_name=true")
	}
	if e := validIndexName(name); e != nil {
		return e
	}
	if ix := s.indices[name]; ix != nil {
		return newErr(400, "resource_already_exists_exception", "index [%s/%s] already exists", name, ix.uuid).
			with("index_uuid", ix.uuid).with("index", name)
	}
	if s.aliasExists(name) {
		return newErr(400, "invalid_index_name_exception", "Invalid index name [%s], already exists as alias", name).
			with("index_uuid", "_na_").with("index", name)
	}
	var req map[string]any
	if e := decodeJSON(body, &req); e != nil {
		return e
	}
	for k := range req {
		if k != "settings" && k != "mappings" && k != "aliases" {
			return parseErr("unknown key [%s] for create index", k)
		}
	}
	mapping, e := parseRootMapping(req["mappings"])
	if e != nil {
		return e
	}
	settings, _ := req["settings"].(map[string]any)
	aliases := map[string]*alias{}
	if am, ok := req["aliases"].(map[string]any); ok {
		for an, def := range am {
			if an == name || s.indices[an] != nil {
				return invalidAlias(an)
			}
			al := &alias{}
			if dm, ok := def.(map[string]any); ok && dm["filter"] != nil {
				q, e := parseQuery(dm["filter"])
				if e != nil {
					return e
				}
				al.filterRaw, al.filter = dm["filter"], q
			}
			aliases[an] = al
		}
	}
	ix := s.newIndex(name, settings, mapping)
	ix.aliases = aliases
	writeJSON(w, 200, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
	return nil
}

func invalidAlias(name string) *esErr {
	return newErr(400, "invalid_alias_name_exception",
		"Invalid alias name [%s]: an index or data stream exists with the same name as the alias", name)
}

func (s *server) indexExists(w http.ResponseWriter, r *http.Request, expr string) *esErr {
	ts, e := s.resolveExpr(expr, false)
	if e != nil || len(ts) == 0 {
		w.WriteHeader(404)
		return nil
	}
	w.WriteHeader(200)
	return nil
}

func (s *server) deleteIndex(w http.ResponseWriter, r *http.Request, expr string) *esErr {
	if e := checkParams(r, "timeout", "master_timeout", "ignore_unavailable", "allow_no_indices", "expand_wildcards"); e != nil {
		return e
	}
	var del []string
	for _, part := range strings.Split(expr, ",") {
		switch {
		case isWildcard(part) || part == "_all":
			for n := range s.indices {
				if part == "_all" || globMatch(part, n) {
					del = append(del, n)
				}
			}
		case s.indices[part] != nil:
			del = append(del, part)
		case s.aliasExists(part):
			return newErr(400, "illegal_argument_exception",
				"The provided expression [%s] matches an alias, specify the corresponding concrete indices instead.", part)
		default:
			return indexNotFound(part)
		}
	}
	for _, n := range del {
		delete(s.indices, n)
	}
	writeJSON(w, 200, map[string]any{"acknowledged": true})
	return nil
}

func (s *server) refreshIndex(ix *index) {
	if !ix.dirty {
		return
	}
	vis := make([]*document, 0, len(ix.docs))
	for _, d := range ix.docs {
		vis = append(vis, d)
	}
	sort.Slice(vis, func(i, j int) bool { return vis[i].order < vis[j].order })
	ix.visible = vis
	ix.dirty = false
}

func (s *server) refresh(w http.ResponseWriter, r *http.Request, expr string) *esErr {
	if e := checkParams(r, "ignore_unavailable", "allow_no_indices", "expand_wildcards"); e != nil {
		return e
	}
	ts, e := s.resolveExpr(expr, true)
	if e != nil {
		return e
	}
	for _, t := range ts {
		s.refreshIndex(t.ix)
	}
	n := len(ts)
	writeJSON(w, 200, map[string]any{"_shards": map[string]any{"total": 2 * n, "successful": n, "failed": 0}})
	return nil
}

func (s *server) getMapping(w http.ResponseWriter, r *http.Request, expr string) *esErr {
	ts, e := s.resolveExpr(expr, true)
	if e != nil {
		return e
	}
	out := map[string]any{}
	for _, t := range ts {
		out[t.ix.name] = map[string]any{"mappings": t.ix.mapping.toJSON()}
	}
	writeJSON(w, 200, out)
	return nil
}

// ---- count / search ----

var shardsOK = map[string]any{"total": 1, "successful": 1, "skipped": 0, "failed": 0}

func (s *server) search(w http.ResponseWriter, r *http.Request, expr string, body []byte, count bool) *esErr {
	allowed := []string{"ignore_unavailable", "allow_no_indices", "expand_wildcards", "track_total_hits", "size", "from", "rest_total_hits_as_int"}
	if !count {
		allowed = append(allowed, "scroll")
	}
	if e := checkParams(r, allowed...); e != nil {
		return e
	}
	var req map[string]any
	if e := decodeJSON(body, &req); e != nil {
		return e
	}
	size, from := 10, 0
	if v := r.URL.Query().Get("size"); v != "" {
		fmt.Sscan(v, &size)
	}
	track := any(json.Number("10000"))
	fetchSource := true
	var includes []string
	scroll := r.URL.Query().Get("scroll")
	for k, v := range req {
		switch {
		case k == "query":
		case !count && k == "size":
			fmt.Sscan(fmt.Sprint(v), &size)
		case !count && k == "from":
			fmt.Sscan(fmt.Sprint(v), &from)
		case !count && k == "track_total_hits":
			track = v
		case !count && k == "sort":
			if fmt.Sprint(v) != "[_doc]" {
				return unsupported("sort other than [\"_doc\"]")
			}
		case !count && k == "_source":
			var e *esErr
			if fetchSource, includes, e = parseSourceFilter(v); e != nil {
				return e
			}
		default:
			return parseErr("request does not support [%s]", k)
		}
	}
	if scroll != "" {
		if from != 0 {
			return newErr(400, "action_request_validation_exception", "Validation Failed: 1: using [from] is not allowed in a scroll context;")
		}
		size, from = int(^uint(0)>>1), 0 // collect every hit into the scroll snapshot below
	}
	q, e := parseQuery(req["query"])
	if e != nil {
		return e
	}
	ts, e := s.resolveExpr(expr, true)
	if e != nil {
		return e
	}
	var matched []map[string]any
	total := 0
	for _, t := range ts {
		for _, d := range t.ix.visible {
			ok, e := s.matches(t, d, q)
			if e != nil {
				return searchPhaseErr(e)
			}
			if !ok {
				continue
			}
			total++
			if !count && total > from && len(matched) < size {
				hit := map[string]any{"_index": t.ix.name, "_type": "_doc", "_id": d.id, "_score": 1.0}
				if fetchSource {
					hit["_source"] = filterSource(d.source, includes)
				}
				matched = append(matched, hit)
			}
		}
	}
	if count {
		writeJSON(w, 200, map[string]any{"count": total, "_shards": shardsOK})
		return nil
	}
	if scroll != "" {
		pageSize := 10
		if v := r.URL.Query().Get("size"); v != "" {
			fmt.Sscan(v, &pageSize)
		}
		if v, ok := req["size"]; ok {
			fmt.Sscan(fmt.Sprint(v), &pageSize)
		}
		return s.scrollStart(w, matched, total, pageSize)
	}
	hits := map[string]any{"max_score": nil, "hits": matched}
	if len(matched) > 0 {
		hits["max_score"] = 1.0
	}
	switch tv := fmt.Sprint(track); tv {
	case "false":
	case "true":
		hits["total"] = map[string]any{"value": total, "relation": "eq"}
	default:
		limit := 10000
		fmt.Sscan(tv, &limit)
		if total > limit {
			hits["total"] = map[string]any{"value": limit, "relation": "gte"}
		} else {
			hits["total"] = map[string]any{"value": total, "relation": "eq"}
		}
	}
	if matched == nil {
		hits["hits"] = []any{}
	}
	writeJSON(w, 200, map[string]any{"took": 1, "timed_out": false, "_shards": shardsOK, "hits": hits})
	return nil
}

func (s *server) matches(t target, d *document, q query) (bool, *esErr) {
	if t.filters != nil {
		any := false
		for _, f := range t.filters {
			ok, e := f(t.ix, d)
			if e != nil {
				return false, e
			}
			if ok {
				any = true
				break
			}
		}
		if !any {
			return false, nil
		}
	}
	return q(t.ix, d)
}
