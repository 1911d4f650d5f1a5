package estest

import (
	"reflect"
	"regexp"
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

func termMatch(ix *index, d *document, fieldName string, values []any) bool {
	f, path, nested := resolve(ix.mapping, fieldName)
	if f == nil || nested || f.typ == "object" || f.typ == "nested" {
		return false
	}
	have := indexedTerms(f, d.source, path)
	for _, v := range values {
		want, ok := queryTerm(f, v)
		if !ok {
			continue
		}
		for _, h := range have {
			if h == want {
				return true
			}
		}
	}
	return false
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
	return func(ix *index, d *document) (bool, *esErr) {
		return termMatch(ix, d, fieldName, []any{val}), nil
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
	return func(ix *index, d *document) (bool, *esErr) {
		return termMatch(ix, d, fieldName, vals), nil
	}, nil
}

func parseExists(body any) (query, *esErr) {
	m, ok := body.(map[string]any)
	name, _ := m["field"].(string)
	if !ok || name == "" {
		return nil, parseErr("[exists] must be provided with a [field]")
	}
	return func(ix *index, d *document) (bool, *esErr) {
		f, path, nested := resolve(ix.mapping, name)
		if f == nil || nested {
			return false, nil
		}
		if f.typ == "object" {
			return len(sourceValues(d.source, path)) > 0, nil
		}
		return len(indexedTerms(f, d.source, path)) > 0, nil
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
	a, b, op := g[1]+g[2], g[4]+g[5], g[3]
	return func(ix *index, d *document) (bool, *esErr) {
		va, e := docValues(ix, d, a)
		if e != nil {
			return false, e
		}
		vb, e := docValues(ix, d, b)
		if e != nil {
			return false, e
		}
		eq := reflect.DeepEqual(va, vb)
		if op == "==" {
			return eq, nil
		}
		return !eq, nil
	}, nil
}

type docVals struct {
	kind string
	vals []string
}

func scriptErr(src, reason string) *esErr {
	return newErr(400, "script_exception", "runtime error").with("script", src).with("lang", "painless").
		cause(newErr(400, "illegal_argument_exception", "%s", reason))
}

// docValues mimics doc['field'] in Painless: sorted (and for strings
// de-duplicated) doc values; unmapped fields and text fields without
// fielddata are runtime errors, as in Elasticsearch.
func docValues(ix *index, d *document, name string) (docVals, *esErr) {
	f, path, nested := resolve(ix.mapping, name)
	src := "doc['" + name + "']"
	if f == nil || nested || f.typ == "object" || f.typ == "nested" {
		return docVals{}, scriptErr(src, "No field found for ["+name+"] in mapping")
	}
	if f.typ == "text" && !f.fielddata {
		return docVals{}, scriptErr(src, "Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on ["+name+"] in order to load field data by uninverting the inverted index. Note that this can use significant memory.")
	}
	vals := indexedTerms(f, d.source, path)
	kind := f.typ
	switch f.typ {
	case "keyword", "text":
		kind = "string"
		sort.Strings(vals)
		vals = dedup(vals)
	default:
		sort.Strings(vals)
	}
	return docVals{kind: kind, vals: append([]string{}, vals...)}, nil
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
