package estest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

type aliasOp struct {
	kind    string // add, remove
	indices []string
	aliases []string
	def     *alias
}

func stringsOf(m map[string]any, one, many string) ([]string, *esErr) {
	var out []string
	if v, ok := m[one]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, parseErr("[%s] must be a string", one)
		}
		out = append(out, s)
	}
	if v, ok := m[many]; ok {
		arr, ok := v.([]any)
		if !ok {
			return nil, parseErr("[%s] must be an array", many)
		}
		for _, x := range arr {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out, nil
}

// expandIndices resolves index names/wildcards of alias actions to concrete
// indices; an alias name is an error, a missing name is index_not_found.
func (s *server) expandIndices(names []string) ([]string, *esErr) {
	var out []string
	for _, n := range names {
		if isWildcard(n) || n == "_all" {
			found := false
			for name := range s.indices {
				if n == "_all" || globMatch(n, name) {
					out = append(out, name)
					found = true
				}
			}
			if !found {
				return nil, indexNotFound(n)
			}
			continue
		}
		if s.indices[n] != nil {
			out = append(out, n)
			continue
		}
		if s.aliasExists(n) {
			return nil, newErr(400, "illegal_argument_exception",
				"The provided expression [%s] matches an alias, specify the corresponding concrete indices instead.", n)
		}
		return nil, indexNotFound(n)
	}
	return out, nil
}

// updateAliases implements POST /_aliases: every action is validated first
// and nothing is applied unless all are valid; remove_index actions are
// applied before the others (so an index can be replaced by an alias of the
// same name), then add/remove in request order.
func (s *server) updateAliases(w http.ResponseWriter, r *http.Request, body []byte) *esErr {
	if e := checkParams(r, "timeout", "master_timeout"); e != nil {
		return e
	}
	var req map[string]any
	if e := decodeJSON(body, &req); e != nil {
		return e
	}
	acts, ok := req["actions"].([]any)
	if !ok || len(req) != 1 {
		return parseErr("[aliases] request must contain only [actions]")
	}
	if len(acts) == 0 {
		return newErr(400, "action_request_validation_exception", "Validation Failed: 1: Must specify at least one alias action;")
	}
	removeIdx := map[string]bool{}
	var ops []aliasOp
	for _, a := range acts {
		am, ok := a.(map[string]any)
		if !ok || len(am) != 1 {
			return parseErr("[aliases] each action must have exactly one of add, remove, remove_index")
		}
		for kind, v := range am {
			m, ok := v.(map[string]any)
			if !ok {
				return parseErr("[%s] must be an object", kind)
			}
			idx, e := stringsOf(m, "index", "indices")
			if e != nil {
				return e
			}
			if len(idx) == 0 {
				return newErr(400, "action_request_validation_exception", "Validation Failed: 1: One of [index/indices] is required;")
			}
			expanded, e := s.expandIndices(idx)
			if e != nil {
				return e
			}
			switch kind {
			case "remove_index":
				for k := range m {
					if k != "index" && k != "indices" {
						return parseErr("[remove_index] unknown field [%s]", k)
					}
				}
				for _, n := range expanded {
					removeIdx[n] = true
				}
			case "add", "remove":
				names, e := stringsOf(m, "alias", "aliases")
				if e != nil {
					return e
				}
				if len(names) == 0 {
					return newErr(400, "action_request_validation_exception", "Validation Failed: 1: One of [alias/aliases] is required;")
				}
				op := aliasOp{kind: kind, indices: expanded, aliases: names}
				for k := range m {
					switch k {
					case "index", "indices", "alias", "aliases":
					case "filter":
						if kind != "add" {
							return parseErr("[remove] unknown field [filter]")
						}
					case "is_write_index":
						if kind != "add" {
							return parseErr("[remove] unknown field [is_write_index]")
						}
					case "must_exist":
						if kind != "remove" {
							return parseErr("[add] unknown field [must_exist]")
						}
					default:
						return unsupported("alias action field [%s]", k)
					}
				}
				if kind == "add" {
					op.def = &alias{}
					if f, ok := m["filter"]; ok && f != nil {
						q, e := parseQuery(f)
						if e != nil {
							return e
						}
						op.def.filterRaw, op.def.filter = f, q
					}
					if b, ok := m["is_write_index"].(bool); ok {
						op.def.isWriteIndex = &b
					}
					for _, n := range names {
						if isWildcard(n) {
							return newErr(400, "invalid_alias_name_exception", "Invalid alias name [%s]: must not contain the following characters [*]", n)
						}
						if e := validIndexName(n); e != nil {
							return newErr(400, "invalid_alias_name_exception", "Invalid alias name [%s]: %s", n, e.reason)
						}
					}
				} else if mustExist, ok := m["must_exist"].(bool); !ok || mustExist {
					var missing []string
					for _, n := range names {
						if isWildcard(n) {
							continue
						}
						found := false
						for _, in := range expanded {
							if _, ok := s.indices[in].aliases[n]; ok {
								found = true
							}
						}
						if !found {
							missing = append(missing, n)
						}
					}
					if len(missing) > 0 {
						list := strings.Join(missing, ",")
						return newErr(404, "aliases_not_found_exception", "aliases [%s] missing", list).
							with("resource.type", "aliases").with("resource.id", list)
					}
				}
				ops = append(ops, op)
			default:
				return parseErr("[aliases] unknown action [%s]", kind)
			}
		}
	}
	// Second validation pass against the state after remove_index.
	for _, op := range ops {
		for _, in := range op.indices {
			if removeIdx[in] {
				return indexNotFound(in)
			}
		}
		if op.kind == "add" {
			for _, n := range op.aliases {
				if s.indices[n] != nil && !removeIdx[n] {
					return invalidAlias(n)
				}
			}
		}
	}
	// Apply (nothing above has changed state).
	for n := range removeIdx {
		delete(s.indices, n)
	}
	for _, op := range ops {
		for _, in := range op.indices {
			ix := s.indices[in]
			for _, n := range op.aliases {
				if op.kind == "add" {
					def := *op.def
					ix.aliases[n] = &def
					continue
				}
				for an := range ix.aliases {
					if an == n || (isWildcard(n) && globMatch(n, an)) {
						delete(ix.aliases, an)
					}
				}
			}
		}
	}
	writeJSON(w, 200, map[string]any{"acknowledged": true})
	return nil
}

func aliasJSON(al *alias) map[string]any {
	m := map[string]any{}
	if al.filterRaw != nil {
		m["filter"] = al.filterRaw
	}
	if al.isWriteIndex != nil {
		m["is_write_index"] = *al.isWriteIndex
	}
	return m
}

// getAlias implements GET /_alias/<names>: {index:{aliases:{name:{...}}}};
// names that match nothing give 404 {"error":"alias [x] missing","status":404}.
func (s *server) getAlias(w http.ResponseWriter, r *http.Request, names string) *esErr {
	if e := checkParams(r, "local", "ignore_unavailable", "allow_no_indices", "expand_wildcards"); e != nil {
		return e
	}
	out := map[string]any{}
	var missing []string
	for _, n := range strings.Split(names, ",") {
		found := false
		for _, ix := range s.indices {
			for an, al := range ix.aliases {
				if an == n || n == "_all" || (isWildcard(n) && globMatch(n, an)) {
					found = true
					entry, _ := out[ix.name].(map[string]any)
					if entry == nil {
						entry = map[string]any{"aliases": map[string]any{}}
						out[ix.name] = entry
					}
					entry["aliases"].(map[string]any)[an] = aliasJSON(al)
				}
			}
		}
		if !found && !isWildcard(n) && n != "_all" {
			missing = append(missing, n)
		}
	}
	if r.Method == http.MethodHead {
		if len(missing) > 0 || len(out) == 0 {
			w.WriteHeader(404)
		} else {
			w.WriteHeader(200)
		}
		return nil
	}
	if len(missing) > 0 {
		word := "alias"
		if len(missing) > 1 {
			word = "aliases"
		}
		out["error"] = word + " [" + strings.Join(missing, ",") + "] missing"
		out["status"] = 404
		writeJSON(w, 404, out)
		return nil
	}
	writeJSON(w, 200, out)
	return nil
}

// ---- _cat/indices ----

func nestedCount(f *field, v any) int {
	n := 0
	var walk func(f *field, v any, nestedHere bool)
	walk = func(f *field, v any, nestedHere bool) {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				walk(f, e, nestedHere)
			}
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if nestedHere {
			n++
		}
		for k, sub := range f.props {
			if sub.typ == "object" || sub.typ == "nested" {
				walk(sub, m[k], sub.typ == "nested")
			}
		}
	}
	walk(f, v, false)
	return n
}

var catColumns = map[string]bool{
	"health": true, "status": true, "index": true, "uuid": true, "pri": true, "rep": true,
	"docs.count": true, "docs.deleted": true, "creation.date": true, "creation.date.string": true,
}

// catIndices implements GET /_cat/indices/<pattern>?format=json[&h=...].
// docs.count is Lucene's count of refreshed documents, nested objects
// included, as in Elasticsearch.
func (s *server) catIndices(w http.ResponseWriter, r *http.Request, pattern string) *esErr {
	if e := checkParams(r, "format", "h", "expand_wildcards", "local", "master_timeout"); e != nil {
		return e
	}
	if f := r.URL.Query().Get("format"); f != "json" {
		return unsupported("_cat format [%s]; only format=json", f)
	}
	cols := []string{"health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted"}
	if h := r.URL.Query().Get("h"); h != "" {
		cols = strings.Split(h, ",")
	}
	for _, c := range cols {
		if !catColumns[c] {
			return unsupported("_cat/indices column [%s]", c)
		}
	}
	ts, e := s.resolveExpr(pattern, true)
	if e != nil {
		return e
	}
	rows := []any{}
	for _, t := range ts {
		ix := t.ix
		docs := ix.luceneDocs()
		vals := map[string]string{
			"health": "green", "status": "open", "index": ix.name, "uuid": ix.uuid, "pri": "1", "rep": "0",
			"docs.count": strconv.Itoa(docs), "docs.deleted": "0",
			"creation.date":        strconv.FormatInt(ix.created.UnixMilli(), 10),
			"creation.date.string": ix.created.UTC().Format(time.RFC3339Nano),
		}
		row := map[string]any{}
		for _, c := range cols {
			row[c] = vals[c]
		}
		rows = append(rows, row)
	}
	writeJSON(w, 200, rows)
	return nil
}
