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
	mapping  *field               // never changed in place: bulk stores a changed copy
	docs     map[string]*document // latest writes
	visible  []*document          // as of the last refresh, in order
	aliases  map[string]*alias
	seqNo    int64
	dirty    bool
	// pending are the documents created since the last refresh, in order; rewritten
	// says a document was replaced or deleted since then. Together they let a refresh
	// of an index that only grew append instead of re-sorting every document.
	pending   []*document
	rewritten bool
	// rewrites is bumped by a refresh that replaced or removed visible documents; until
	// then visible only grows at the end.
	rewrites int64
	// counts caches _count results by alias filters and query, valid for one mapping and
	// one rewrites value, each covering visible[:upto]: a reader polling a filtered alias
	// of a 300 000-document index must not hold the server lock for a scan each time, and
	// after a refresh that only added documents only those are counted.
	counts        map[string]*countEntry
	countsRewrite int64
	countsMapping *field
	catDocs       *catDocsCache
}

type countEntry struct {
	n, upto int
}

// luceneDocs is _cat/indices' docs.count (each nested object counts as a document),
// cached like counts.
func (ix *index) luceneDocs() int {
	if ix.catDocs == nil || ix.catDocs.rewrites != ix.rewrites || ix.catDocs.mapping != ix.mapping {
		ix.catDocs = &catDocsCache{rewrites: ix.rewrites, mapping: ix.mapping}
	}
	c := ix.catDocs
	for _, d := range ix.visible[c.upto:] {
		c.n += 1 + nestedCount(ix.mapping, d.source)
	}
	c.upto = len(ix.visible)
	return c.n
}

type catDocsCache struct {
	countEntry
	rewrites int64
	mapping  *field
}

type server struct {
	log     func(format string, args ...any)
	mu      sync.Mutex
	scrolls map[string]*scrollCtx
	indices map[string]*index
	order   int64
	lastMS  int64
	done    bool
}

func newServer(logf func(format string, args ...any)) *server {
	return &server{log: logf, indices: map[string]*index{}, scrolls: map[string]*scrollCtx{}}
}

// Start runs the test server on 127.0.0.1 and returns its base URL. State
// lives in memory and is discarded on t.Cleanup. It is for tests only.
func Start(t testing.TB) string {
	t.Helper()
	s := NewHandler(t.Logf).(*server)
	ts := httptest.NewUnstartedServer(s)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("estest: listen: %v", err)
	}
	ts.Listener = l
	ts.Start()
	t.Cleanup(func() {
		s.mu.Lock()
		s.done = true // t.Logf must not be called once the test has ended
		s.mu.Unlock()
		ts.Close()
	})
	return ts.URL
}

// NewHandler returns the test server as an http.Handler, for running it as a standalone
// process (estest-server) where Elasticsearch cannot be installed: the demo and the
// benchmark, whose worker is a separate process. State lives in memory (nothing is
// persisted); logf, which may be nil, receives the requests estest does not support.
func NewHandler(logf func(format string, args ...any)) http.Handler {
	return newServer(logf)
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// logf reports a gap (a request estest does not support); callers hold s.mu.
func (s *server) logf(format string, args ...any) {
	if s.done || s.log == nil {
		return
	}
	s.log("estest: "+format, args...)
}

// response buffers what a handler writes while the server lock is held; JSON bodies are
// encoded after the lock is released, so a large _bulk or scroll response does not make
// every other request wait. Handlers only put fresh values or stored documents (which
// are never changed in place) in a response, so encoding them unlocked is safe.
type response struct {
	header http.Header
	status int
	v      any
	isJSON bool
	body   bytes.Buffer
}

func (r *response) Header() http.Header         { return r.header }
func (r *response) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *response) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *response) flush(w http.ResponseWriter, method string) {
	if r.isJSON && method != http.MethodHead {
		_ = json.NewEncoder(&r.body).Encode(r.v)
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("X-elastic-product", "Elasticsearch")
	w.WriteHeader(status)
	if r, ok := w.(*response); ok {
		r.v, r.isJSON = v, true
		return
	}
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

// ServeHTTP routes the supported REST subset. One lock serialises the handlers, as the
// state is small and every handler is quick; a _bulk body is parsed before the lock is
// taken and responses are encoded after it is released.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := strings.Trim(r.URL.Path, "/")
	var segs []string
	if p != "" {
		segs = strings.Split(p, "/")
	}
	var bulk *bulkRequest
	if n := len(segs); n >= 1 && n <= 2 && segs[n-1] == "_bulk" && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		def := ""
		if n == 2 {
			def = segs[0]
		}
		bulk = parseBulk(def, body)
	}
	res := &response{header: w.Header()}
	s.mu.Lock()
	if e := s.route(res, r, segs, body, bulk); e != nil {
		s.writeErr(res, r, e)
	}
	s.mu.Unlock()
	res.flush(w, r.Method)
}

func (s *server) route(w http.ResponseWriter, r *http.Request, segs []string, body []byte, bulk *bulkRequest) *esErr {
	m := r.Method
	is := func(methods ...string) bool {
		for _, x := range methods {
			if x == m {
				return true
			}
		}
		return false
	}
	scroll := len(segs) >= 2 && len(segs) <= 3 && segs[0] == "_search" && segs[1] == "scroll"
	switch {
	case len(segs) == 0 && is("GET", "HEAD"):
		return s.root(w, r)
	case scroll && is("GET", "POST"):
		return s.scrollNext(w, r, segs[2:], body)
	case scroll && is("DELETE"):
		return s.scrollClear(w, r, segs[2:], body)
	case len(segs) == 1 && segs[0] == "_bulk" && is("POST", "PUT"):
		return s.bulk(w, r, bulk)
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
		return s.route(w, r, []string{"_all", segs[0]}, body, bulk)
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_") && is("PUT", "POST"):
		return s.createIndex(w, r, segs[0], body)
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_") && is("HEAD"):
		return s.indexExists(w, r, segs[0])
	case len(segs) == 1 && !strings.HasPrefix(segs[0], "_") && is("DELETE"):
		return s.deleteIndex(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "_bulk" && is("POST", "PUT"):
		return s.bulk(w, r, bulk)
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
	ix         *index
	filters    []query
	filterRaws []any // the filters as sent, for the count cache key
}

// resolveExpr resolves a comma-separated expression of indices, aliases and
// wildcards (with -exclusions) as Elasticsearch does for search APIs.
func (s *server) resolveExpr(expr string, allowNoIndices bool) ([]target, *esErr) {
	type acc struct {
		unfiltered bool
		filters    []query
		raws       []any
	}
	hits := map[string]*acc{}
	add := func(ix *index, al *alias) {
		a := hits[ix.name]
		if a == nil {
			a = &acc{}
			hits[ix.name] = a
		}
		if al == nil || al.filter == nil {
			a.unfiltered = true
		} else {
			a.filters = append(a.filters, al.filter)
			a.raws = append(a.raws, al.filterRaw)
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
						add(ix, al)
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
				add(ix, al)
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
			t.filters, t.filterRaws = a.filters, a.raws
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
	if !ix.rewritten {
		// Only creations since the last refresh, all newer than every visible document.
		ix.visible = append(ix.visible, ix.pending...)
	} else {
		// Keep the creation order: the previously visible documents, then the new ones,
		// each replaced by its latest version or dropped when deleted (or deleted and
		// created again, which gives a new order and a place among the new ones).
		vis := make([]*document, 0, len(ix.docs))
		keep := func(d *document) {
			if cur := ix.docs[d.id]; cur != nil && cur.order == d.order {
				vis = append(vis, cur)
			}
		}
		for _, d := range ix.visible {
			keep(d)
		}
		for _, d := range ix.pending {
			keep(d)
		}
		ix.visible = vis
		ix.rewrites++
	}
	clear(ix.pending)
	ix.pending = ix.pending[:0]
	ix.dirty, ix.rewritten = false, false
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

// maxResultWindow is index.max_result_window (default 10000), in either settings form.
func maxResultWindow(ix *index) int {
	v, ok := ix.settings["index.max_result_window"]
	if !ok {
		if im, isMap := ix.settings["index"].(map[string]any); isMap {
			v, ok = im["max_result_window"]
		}
	}
	n := 10000
	if ok {
		fmt.Sscan(fmt.Sprint(v), &n)
	}
	return n
}

func windowErr(format string, args ...any) *esErr {
	return newErr(400, "search_phase_execution_exception", "all shards failed").with("phase", "query").
		cause(newErr(400, "illegal_argument_exception", format, args...))
}

// hitJSON is one search hit (a struct: a scroll page holds thousands).
type hitJSON struct {
	Index  string   `json:"_index"`
	Type   string   `json:"_type"`
	ID     string   `json:"_id"`
	Score  *float64 `json:"_score"`
	Source any      `json:"_source,omitempty"`
	Sort   []int64  `json:"sort,omitempty"`
}

var scoreOne = 1.0

// hitRef is a matched document of a search: what a scroll snapshot keeps.
type hitRef struct {
	ix *index
	d  *document
}

// fetch is the fetch phase of a search: _source filtering and the _doc sort.
type fetch struct {
	source   bool
	includes []string
	byDoc    bool // sort: ["_doc"]: no score, a sort value per hit
}

func (f fetch) hit(h hitRef, pos int) hitJSON {
	out := hitJSON{Index: h.ix.name, Type: "_doc", ID: h.d.id, Score: &scoreOne}
	if f.source {
		out.Source = filterSource(h.d.source, f.includes)
	}
	if f.byDoc {
		out.Score, out.Sort = nil, []int64{int64(pos)}
	}
	return out
}

// hitsTotal renders hits.total: an object, or a number with rest_total_hits_as_int.
func hitsTotal(r *http.Request, value int, relation string) any {
	if r.URL.Query().Get("rest_total_hits_as_int") == "true" {
		return value
	}
	return map[string]any{"value": value, "relation": relation}
}

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
	if v := r.URL.Query().Get("from"); v != "" {
		fmt.Sscan(v, &from)
	}
	track := any(json.Number("10000"))
	f := fetch{source: true}
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
			if fmt.Sprint(v) != "[_doc]" && fmt.Sprint(v) != "_doc" {
				return unsupported("sort other than [\"_doc\"]")
			}
			f.byDoc = true
		case !count && k == "_source":
			var e *esErr
			if f.source, f.includes, e = parseSourceFilter(v); e != nil {
				return e
			}
		default:
			return parseErr("request does not support [%s]", k)
		}
	}
	var keepAlive time.Duration
	if scroll != "" {
		var e *esErr
		if keepAlive, e = parseKeepAlive(scroll); e != nil {
			return e
		}
		if from != 0 {
			return newErr(400, "action_request_validation_exception", "Validation Failed: 1: using [from] is not allowed in a scroll context;")
		}
		if size == 0 {
			return newErr(400, "action_request_validation_exception", "Validation Failed: 1: [size] cannot be [0] in a scroll context;")
		}
		if fmt.Sprint(track) == "false" {
			return newErr(400, "action_request_validation_exception", "Validation Failed: 1: disabling [track_total_hits] is not allowed in a scroll context;")
		}
	}
	q, e := parseQuery(req["query"])
	if e != nil {
		return e
	}
	ts, e := s.resolveExpr(expr, true)
	if e != nil {
		return e
	}
	if count {
		total := 0
		for _, t := range ts {
			n, e := s.count(t, req["query"], q)
			if e != nil {
				return e
			}
			total += n
		}
		writeJSON(w, 200, map[string]any{"count": total, "_shards": shardsOK})
		return nil
	}
	for _, t := range ts {
		if limit := maxResultWindow(t.ix); scroll != "" && size > limit {
			return windowErr("Batch size is too large, size must be less than or equal to: [%d] but was [%d]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.", limit, size)
		} else if scroll == "" && from+size > limit {
			return windowErr("Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", limit, from+size)
		}
	}
	var matched []hitRef
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
			if scroll != "" || (total > from && len(matched) < size) {
				matched = append(matched, hitRef{t.ix, d})
			}
		}
	}
	if scroll != "" {
		return s.scrollStart(w, r, matched, f, size, keepAlive)
	}
	hits := map[string]any{"max_score": nil}
	out := make([]hitJSON, len(matched))
	for i, h := range matched {
		out[i] = f.hit(h, from+i)
	}
	hits["hits"] = out
	if len(matched) > 0 && !f.byDoc {
		hits["max_score"] = 1.0
	}
	switch tv := fmt.Sprint(track); tv {
	case "false":
	case "true":
		hits["total"] = hitsTotal(r, total, "eq")
	default:
		limit := 10000
		fmt.Sscan(tv, &limit)
		if total > limit {
			hits["total"] = hitsTotal(r, limit, "gte")
		} else {
			hits["total"] = hitsTotal(r, total, "eq")
		}
	}
	writeJSON(w, 200, map[string]any{"took": 1, "timed_out": false, "_shards": shardsOK, "hits": hits})
	return nil
}

// count counts the visible documents of one target matching q, through the index's
// count cache (see index.counts), keyed by the alias filters and the query as sent.
func (s *server) count(t target, rawQuery any, q query) (int, *esErr) {
	ix := t.ix
	if ix.counts == nil || ix.countsRewrite != ix.rewrites || ix.countsMapping != ix.mapping || len(ix.counts) > 1000 {
		ix.counts, ix.countsRewrite, ix.countsMapping = map[string]*countEntry{}, ix.rewrites, ix.mapping
	}
	entry := &countEntry{}
	if kb, err := json.Marshal([]any{t.filterRaws, rawQuery}); err == nil {
		if cached, ok := ix.counts[string(kb)]; ok {
			entry = cached
		} else {
			ix.counts[string(kb)] = entry
		}
	}
	n := entry.n
	for _, d := range ix.visible[entry.upto:] {
		ok, e := s.matches(t, d, q)
		if e != nil {
			return 0, searchPhaseErr(e)
		}
		if ok {
			n++
		}
	}
	entry.n, entry.upto = n, len(ix.visible)
	return n, nil
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
