package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"time"
)

var itemShards = map[string]any{"total": 2, "successful": 1, "failed": 0}

// writeIndex resolves the target of a write: an index, an alias with a
// single (or a designated write) index, or a new index that is
// auto-created with dynamic mapping (action.auto_create_index=true).
func (s *server) writeIndex(name string) (*index, *esErr) {
	if ix := s.indices[name]; ix != nil {
		return ix, nil
	}
	var cands, writers []*index
	for _, ix := range s.indices {
		if al, ok := ix.aliases[name]; ok {
			cands = append(cands, ix)
			if al.isWriteIndex != nil && *al.isWriteIndex {
				writers = append(writers, ix)
			}
		}
	}
	switch {
	case len(writers) == 1:
		return writers[0], nil
	case len(cands) == 1 && (cands[0].aliases[name].isWriteIndex == nil || *cands[0].aliases[name].isWriteIndex):
		return cands[0], nil
	case len(cands) > 0:
		return nil, newErr(400, "illegal_argument_exception",
			"no write index is defined for alias [%s]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index", name)
	}
	if e := validIndexName(name); e != nil {
		return nil, e
	}
	root, _ := parseRootMapping(nil)
	return s.newIndex(name, nil, root), nil
}

func copyMap(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

// deepMerge applies a partial document like the update API: objects merge
// recursively, everything else (including arrays) is replaced.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

type bulkLine struct {
	op    string
	index string
	id    string
}

func (s *server) bulk(w http.ResponseWriter, r *http.Request, defIndex string, body []byte) *esErr {
	if e := checkParams(r, "refresh", "timeout", "wait_for_active_shards"); e != nil {
		return e
	}
	refresh := false
	switch v := r.URL.Query().Get("refresh"); {
	case !r.URL.Query().Has("refresh") || v == "false":
	case v == "" || v == "true" || v == "wait_for":
		refresh = true
	default:
		return newErr(400, "illegal_argument_exception", "Unknown value for refresh: [%s].", v)
	}
	if len(body) == 0 {
		return newErr(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
	}
	if body[len(body)-1] != '\n' {
		return newErr(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
	}
	start := time.Now()
	lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	var items []any
	errorsSeen := false
	touched := map[*index]bool{}
	for i := 0; i < len(lines); i++ {
		if len(bytes.TrimSpace(lines[i])) == 0 {
			continue
		}
		var meta map[string]map[string]any
		if e := decodeJSON(lines[i], &meta); e != nil || len(meta) != 1 {
			return newErr(400, "illegal_argument_exception", "Malformed action/metadata line [%d], expected START_OBJECT with a single action", i+1)
		}
		var bl bulkLine
		var md map[string]any
		for op, m := range meta {
			bl.op, md = op, m
		}
		switch bl.op {
		case "index", "create", "update", "delete":
		default:
			return newErr(400, "illegal_argument_exception", "Malformed action/metadata line [%d], expected one of [create, delete, index, update] but found [%s]", i+1, bl.op)
		}
		for k, v := range md {
			switch k {
			case "_index":
				bl.index, _ = v.(string)
			case "_id":
				bl.id = keywordString(v)
			case "_type":
				if v != "_doc" {
					return unsupported("bulk _type [%v]", v)
				}
			case "retry_on_conflict":
			default:
				return unsupported("bulk metadata [%s]", k)
			}
		}
		if bl.index == "" {
			bl.index = defIndex
		}
		if bl.index == "" {
			return newErr(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
		}
		var src map[string]any
		if bl.op != "delete" {
			i++
			if i >= len(lines) {
				return newErr(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
			}
			if e := decodeJSON(lines[i], &src); e != nil {
				return e
			}
			if src == nil {
				src = map[string]any{}
			}
		}
		if bl.op == "update" && bl.id == "" {
			return newErr(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;")
		}
		res := s.bulkItem(bl, src, touched)
		if _, failed := res["error"]; failed {
			errorsSeen = true
		}
		if refresh {
			if _, failed := res["error"]; !failed {
				res["forced_refresh"] = true
			}
		}
		items = append(items, map[string]any{bl.op: res})
	}
	if refresh {
		for ix := range touched {
			s.refreshIndex(ix)
		}
	}
	writeJSON(w, 200, map[string]any{"took": time.Since(start).Milliseconds(), "errors": errorsSeen, "items": items})
	return nil
}

func itemErr(bl bulkLine, indexName string, e *esErr) map[string]any {
	return map[string]any{"_index": indexName, "_type": "_doc", "_id": bl.id, "status": e.status, "error": e.detail()}
}

func (s *server) bulkItem(bl bulkLine, src map[string]any, touched map[*index]bool) map[string]any {
	ix, e := s.writeIndex(bl.index)
	if e != nil {
		return itemErr(bl, bl.index, e)
	}
	existing := ix.docs[bl.id]
	var newSrc map[string]any
	result, status := "created", 201
	switch bl.op {
	case "delete":
		if existing == nil {
			return map[string]any{"_index": ix.name, "_type": "_doc", "_id": bl.id, "_version": 1,
				"result": "not_found", "_shards": itemShards, "_seq_no": ix.seqNo, "_primary_term": 1, "status": 404}
		}
		delete(ix.docs, bl.id)
		ix.seqNo++
		ix.dirty = true
		touched[ix] = true
		return map[string]any{"_index": ix.name, "_type": "_doc", "_id": bl.id, "_version": existing.version + 1,
			"result": "deleted", "_shards": itemShards, "_seq_no": ix.seqNo - 1, "_primary_term": 1, "status": 200}
	case "create", "index":
		if bl.id == "" {
			bl.id = randomID(20)
		}
		if existing != nil {
			if bl.op == "create" {
				return itemErr(bl, ix.name, newErr(409, "version_conflict_engine_exception",
					"[%s]: version conflict, document already exists (current version [%d])", bl.id, existing.version).
					with("index_uuid", ix.uuid).with("shard", "0").with("index", ix.name))
			}
			result, status = "updated", 200
		}
		newSrc = src
	case "update":
		upsertDoc := false
		detectNoop := true
		var doc, upsert map[string]any
		for k, v := range src {
			switch k {
			case "doc":
				doc, _ = v.(map[string]any)
			case "doc_as_upsert":
				upsertDoc, _ = v.(bool)
			case "upsert":
				upsert, _ = v.(map[string]any)
			case "detect_noop":
				detectNoop, _ = v.(bool)
			default:
				return itemErr(bl, ix.name, unsupported("update body key [%s]", k))
			}
		}
		if doc == nil {
			return itemErr(bl, ix.name, newErr(400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;"))
		}
		switch {
		case existing != nil:
			merged := copyMap(existing.source)
			deepMerge(merged, copyMap(doc))
			if detectNoop && reflect.DeepEqual(merged, existing.source) {
				return map[string]any{"_index": ix.name, "_type": "_doc", "_id": bl.id, "_version": existing.version,
					"result": "noop", "_shards": map[string]any{"total": 0, "successful": 0, "failed": 0},
					"_seq_no": existing.seqNo, "_primary_term": 1, "status": 200}
			}
			newSrc, result, status = merged, "updated", 200
		case upsertDoc:
			newSrc = doc
		case upsert != nil:
			newSrc = upsert
		default:
			return itemErr(bl, ix.name, newErr(404, "document_missing_exception", "[_doc][%s]: document missing", bl.id).
				with("index_uuid", ix.uuid).with("shard", "0").with("index", ix.name))
		}
	}
	p := &docParser{id: bl.id, root: ix.mapping.clone()}
	if e := p.object(p.root, "", newSrc, ""); e != nil {
		return itemErr(bl, ix.name, e)
	}
	ix.mapping = p.root
	d := &document{id: bl.id, source: newSrc, version: 1, seqNo: ix.seqNo}
	if existing != nil {
		d.version, d.order = existing.version+1, existing.order
	} else {
		s.order++
		d.order = s.order
	}
	ix.seqNo++
	ix.docs[bl.id] = d
	ix.dirty = true
	touched[ix] = true
	return map[string]any{"_index": ix.name, "_type": "_doc", "_id": bl.id, "_version": d.version, "result": result,
		"_shards": itemShards, "_seq_no": d.seqNo, "_primary_term": 1, "status": status}
}
