package estest

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// query is a parsed query; match is evaluated per document of an index.
type query func(ix *index, d *document) (bool, *esErr)

func matchAll(*index, *document) (bool, *esErr) { return true, nil }

// parseQuery parses the supported query DSL subset: match_all, term, terms,
// exists, ids, bool (must/filter/should/must_not) and script in the form
// doc['a'] == / != doc['b']. Anything else is a 400.
func parseQuery(raw any) (query, *esErr) {
	if raw == nil {
		return matchAll, nil
	}
	m, ok := raw.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, parseErr("[_na] query malformed, must start with start_object and contain exactly one query")
	}
	for name, body := range m {
		switch name {
		case "match_all":
			return matchAll, nil
		case "term":
			return parseTerm(body)
		case "terms":
			return parseTerms(body)
		case "exists":
			return parseExists(body)
		case "ids":
			return parseIDs(body)
		case "bool":
			return parseBool(body)
		case "script":
			return parseScript(body)
		default:
			return nil, unsupported("query [%s]", name)
		}
	}
	return nil, nil
}

func singleField(kind string, body any) (string, any, *esErr) {
	m, ok := body.(map[string]any)
	var fieldName string
	var val any
	n := 0
	if ok {
		for k, v := range m {
			if k == "boost" || k == "_name" {
				continue
			}
			fieldName, val = k, v
			n++
		}
	}
	if !ok || n != 1 {
		return "", nil, parseErr("[%s] query doesn't support multiple fields or is malformed", kind)
	}
	return fieldName, val, nil
}

// fieldRef resolves a field name against an index mapping, memoized by the mapping's
// pointer: a stored mapping is never changed in place (bulk replaces it with a copy when
// a dynamic field is added), so a count over hundreds of thousands of documents resolves
// the name once instead of once per document. Queries run under the server lock only.
type fieldRef struct {
	name   string
	root   *field
	f      *field
	path   []string
	nested bool
	// wants are the query values converted for f (term and terms queries).
	values []any
	wants  []string
}

func (r *fieldRef) get(root *field) *fieldRef {
	if r.root != root || root == nil {
		r.root = root
		r.f, r.path, r.nested = resolve(root, r.name)
		r.wants = r.wants[:0]
		if r.f != nil {
			for _, v := range r.values {
				if w, ok := queryTerm(r.f, v); ok {
					r.wants = append(r.wants, w)
				}
			}
		}
	}
	return r
}

func termMatch(ix *index, d *document, ref *fieldRef) bool {
	r := ref.get(ix.mapping)
	f := r.f
	if f == nil || r.nested || f.typ == "object" || f.typ == "nested" || len(r.wants) == 0 {
		return false
	}
	found := false
	eachTerm(f, d.source, r.path, func(h string) bool {
		for _, w := range r.wants {
			if h == w {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

func parseTerm(body any) (query, *esErr) {
	fieldName, val, e := singleField("term", body)
	if e != nil {
		return nil, e
	}
	if vm, ok := val.(map[string]any); ok {
		v, has := vm["value"]
		if !has {
			return nil, parseErr("[term] query does not support [%s] without [value]", fieldName)
		}
		val = v
	}
	if _, ok := val.([]any); ok {
		return nil, parseErr("[term] query does not support array of values")
	}
	ref := &fieldRef{name: fieldName, values: []any{val}}
	return func(ix *index, d *document) (bool, *esErr) {
		return termMatch(ix, d, ref), nil
	}, nil
}

func parseTerms(body any) (query, *esErr) {
	fieldName, val, e := singleField("terms", body)
	if e != nil {
		return nil, e
	}
	vals, ok := val.([]any)
	if !ok {
		return nil, unsupported("terms lookup / non-array terms for [%s]", fieldName)
	}
	ref := &fieldRef{name: fieldName, values: vals}
	return func(ix *index, d *document) (bool, *esErr) {
		return termMatch(ix, d, ref), nil
	}, nil
}

func parseExists(body any) (query, *esErr) {
	m, ok := body.(map[string]any)
	name, _ := m["field"].(string)
	if !ok || name == "" {
		return nil, parseErr("[exists] must be provided with a [field]")
	}
	ref := &fieldRef{name: name}
	none := func(string) bool { return false }
	anyValue := func(any) bool { return false }
	return func(ix *index, d *document) (bool, *esErr) {
		r := ref.get(ix.mapping)
		if r.f == nil || r.nested {
			return false, nil
		}
		if r.f.typ == "object" || r.f.typ == "text" {
			// A text value without tokens ("" or "-") exists too: Lucene writes its norm.
			return !eachValue(d.source, r.path, anyValue), nil
		}
		return !eachTerm(r.f, d.source, r.path, none), nil
	}, nil
}

func parseIDs(body any) (query, *esErr) {
	m, _ := body.(map[string]any)
	vals, ok := m["values"].([]any)
	if !ok {
		return nil, parseErr("[ids] query malformed, no [values]")
	}
	set := map[string]bool{}
	for _, v := range vals {
		set[keywordString(v)] = true
	}
	return func(_ *index, d *document) (bool, *esErr) { return set[d.id], nil }, nil
}

func parseBool(body any) (query, *esErr) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, parseErr("[bool] malformed query")
	}
	clauses := map[string][]query{}
	for k, v := range m {
		switch k {
		case "must", "filter", "should", "must_not":
		case "boost", "_name":
			continue
		case "minimum_should_match":
			return nil, unsupported("bool.minimum_should_match")
		default:
			return nil, parseErr("[bool] query does not support [%s]", k)
		}
		list, isArr := v.([]any)
		if !isArr {
			list = []any{v}
		}
		for _, c := range list {
			q, e := parseQuery(c)
			if e != nil {
				return nil, e
			}
			clauses[k] = append(clauses[k], q)
		}
	}
	return func(ix *index, d *document) (bool, *esErr) {
		for _, k := range []string{"must", "filter"} {
			for _, q := range clauses[k] {
				ok, e := q(ix, d)
				if e != nil || !ok {
					return false, e
				}
			}
		}
		for _, q := range clauses["must_not"] {
			ok, e := q(ix, d)
			if e != nil || ok {
				return false, e
			}
		}
		if sh := clauses["should"]; len(sh) > 0 && len(clauses["must"])+len(clauses["filter"]) == 0 {
			for _, q := range sh {
				ok, e := q(ix, d)
				if e != nil {
					return false, e
				}
				if ok {
					return true, nil
				}
			}
			return false, nil
		}
		return true, nil
	}, nil
}

var scriptRe = regexp.MustCompile(`^\s*doc\[\s*(?:'([^']+)'|"([^"]+)")\s*\]\s*(==|!=)\s*doc\[\s*(?:'([^']+)'|"([^"]+)")\s*\]\s*;?\s*$`)

// parseScript supports exactly `doc['a'] != doc['b']` and `==` (Painless,
// comparing the two doc-values lists with equals()). The script may be the
// short string form or {"source": ..., "lang": "painless"}.
func parseScript(body any) (query, *esErr) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, parseErr("[script] query malformed")
	}
	var src string
	switch s := m["script"].(type) {
	case string:
		src = s
	case map[string]any:
		if lang, ok := s["lang"].(string); ok && lang != "painless" {
			return nil, unsupported("script lang [%s]", lang)
		}
		if _, ok := s["params"]; ok {
			return nil, unsupported("script params")
		}
		src, _ = s["source"].(string)
	}
	if src == "" {
		return nil, parseErr("[script] query malformed, must have a [script]")
	}
	g := scriptRe.FindStringSubmatch(src)
	if g == nil {
		return nil, unsupported("unsupported script [%s]; only doc['a'] == doc['b'] and doc['a'] != doc['b'] are supported", src)
	}
	a, b, op := &fieldRef{name: g[1] + g[2]}, &fieldRef{name: g[4] + g[5]}, g[3]
	return func(ix *index, d *document) (bool, *esErr) {
		var bufA, bufB [4]string
		va, e := docValues(ix, d, a, bufA[:0])
		if e != nil {
			return false, e
		}
		vb, e := docValues(ix, d, b, bufB[:0])
		if e != nil {
			return false, e
		}
		eq := va.equal(vb)
		if op == "==" {
			return eq, nil
		}
		return !eq, nil
	}, nil
}

// docVals is what doc['field'] returns in Painless: a list of the doc values of one kind
// (ScriptDocValues.Strings, Longs, ...).
type docVals struct {
	kind string
	vals []string
}

// equal is List.equals as Painless applies it to two doc-values lists: same length and
// equal elements; elements of different kinds (a String and a Long) are never equal, two
// empty lists always are.
func (a docVals) equal(b docVals) bool {
	if len(a.vals) != len(b.vals) {
		return false
	}
	if len(a.vals) == 0 {
		return true
	}
	return a.kind == b.kind && slices.Equal(a.vals, b.vals)
}

func scriptErr(src, reason string) *esErr {
	return newErr(400, "script_exception", "runtime error").with("script", src).with("lang", "painless").
		cause(newErr(400, "illegal_argument_exception", "%s", reason))
}

// docValueKinds maps field types to the ScriptDocValues class doc['field'] returns.
var docValueKinds = map[string]string{
	"keyword": "string", "text": "string", "long": "long", "integer": "long", "short": "long", "byte": "long",
	"double": "double", "float": "double", "half_float": "double", "scaled_float": "double",
	"boolean": "boolean", "date": "date",
}

// docValues mimics doc['field'] in Painless: sorted (and for strings de-duplicated) doc
// values, appended to buf; unmapped fields and text fields without fielddata are runtime
// errors, as in Elasticsearch.
func docValues(ix *index, d *document, ref *fieldRef, buf []string) (docVals, *esErr) {
	r := ref.get(ix.mapping)
	f := r.f
	src := func() string { return "doc['" + ref.name + "']" }
	if f == nil || r.nested || f.typ == "object" || f.typ == "nested" {
		return docVals{}, scriptErr(src(), "No field found for ["+ref.name+"] in mapping")
	}
	if f.typ == "text" && !f.fielddata {
		return docVals{}, scriptErr(src(), "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on ["+ref.name+"] in order to load field data by uninverting the inverted index. Note that this can use significant memory.")
	}
	vals := buf
	eachTerm(f, d.source, r.path, func(t string) bool { vals = append(vals, t); return true })
	kind := docValueKinds[f.typ]
	if len(vals) > 1 {
		sort.Strings(vals)
		if kind == "string" {
			vals = dedup(vals)
		}
	}
	return docVals{kind: kind, vals: vals}, nil
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// searchPhaseErr wraps a per-document error like a failed search on all shards.
func searchPhaseErr(e *esErr) *esErr {
	if e.status != 400 || (e.typ != "script_exception" && !strings.HasPrefix(e.reason, "estest")) {
		return e
	}
	return newErr(400, "search_phase_execution_exception", "all shards failed").with("phase", "query").cause(e)
}
