package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"
)

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

// mergeDoc applies a partial document like the update API (objects merge recursively,
// everything else, arrays included, is replaced) and returns a new map: stored sources
// are never changed in place, so search responses and scroll snapshots can share them.
// changed reports whether the result differs from base (detect_noop).
func mergeDoc(base, patch map[string]any) (out map[string]any, changed bool) {
	n := len(base)
	for k := range patch {
		if _, had := base[k]; !had {
			n++
		}
	}
	out = make(map[string]any, n)
	for k, v := range base {
		out[k] = v
	}
	for k, v := range patch {
		old, had := base[k]
		if pm, ok := v.(map[string]any); ok {
			if bm, ok := old.(map[string]any); ok {
				m, c := mergeDoc(bm, pm)
				out[k] = m
				changed = changed || c
				continue
			}
		}
		out[k] = v
		if !had || !reflect.DeepEqual(old, v) {
			changed = true
		}
	}
	return out, changed
}

type bulkLine struct {
	op    string
	index string
	id    string
}

// bulkOp is one parsed action of a _bulk body. srcErr is a source that is not a JSON
// object: Elasticsearch fails that item (mapper_parsing_exception), not the request.
type bulkOp struct {
	bulkLine
	src    map[string]any
	srcErr *esErr
}

// bulkRequest is a _bulk body parsed before the server lock is taken (JSON decoding is
// most of a bulk's cost, and counts must not wait for it), or the request-level error.
type bulkRequest struct {
	ops []bulkOp
	err *esErr
}

// parseBulk parses a whole _bulk body first, as Elasticsearch does: a malformed action
// line fails the request before any item is applied.
func parseBulk(defIndex string, body []byte) *bulkRequest {
	fail := func(e *esErr) *bulkRequest { return &bulkRequest{err: e} }
	if len(body) == 0 {
		return fail(newErr(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;"))
	}
	if body[len(body)-1] != '\n' {
		return fail(newErr(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"))
	}
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	ops := make([]bulkOp, 0, len(lines)/2)
	jp := newJSONParser()
	for i := 0; i < len(lines); i++ {
		if len(bytes.TrimSpace(lines[i])) == 0 {
			continue
		}
		mv, err := jp.parse(lines[i])
		meta, _ := mv.(map[string]any)
		if err != nil || len(meta) != 1 {
			return fail(newErr(400, "illegal_argument_exception", "Malformed action/metadata line [%d], expected START_OBJECT with a single action", i+1))
		}
		var op bulkOp
		var md map[string]any
		for name, m := range meta {
			op.op = name
			var ok bool
			if md, ok = m.(map[string]any); !ok {
				return fail(newErr(400, "illegal_argument_exception", "Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", i+1, jsonToken(m)))
			}
		}
		switch op.op {
		case "index", "create", "update", "delete":
		default:
			return fail(newErr(400, "illegal_argument_exception", "Malformed action/metadata line [%d], expected one of [create, delete, index, update] but found [%s]", i+1, op.op))
		}
		for k, v := range md {
			switch k {
			case "_index":
				op.index, _ = v.(string)
			case "_id":
				op.id = keywordString(v)
			case "_type":
				if v != "_doc" {
					return fail(unsupported("bulk _type [%v]", v))
				}
			case "retry_on_conflict":
			default:
				return fail(unsupported("bulk metadata [%s]", k))
			}
		}
		if op.index == "" {
			op.index = defIndex
		}
		if op.index == "" {
			return fail(newErr(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;"))
		}
		if op.op != "delete" {
			i++
			if i >= len(lines) {
				return fail(newErr(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"))
			}
			switch v, err := jp.parse(lines[i]); {
			case err != nil && op.op == "update": // update bodies are parsed with the request
				return fail(newErr(400, "x_content_parse_exception", "failed to parse request body: %v", err))
			case err != nil:
				op.srcErr = newErr(400, "mapper_parsing_exception", "failed to parse").
					cause(newErr(400, "json_parse_exception", "%v", err))
			case v == nil:
				op.src = map[string]any{}
			default:
				m, ok := v.(map[string]any)
				if !ok {
					if op.op == "update" {
						return fail(parseErr("Failed to derive xcontent"))
					}
					op.srcErr = newErr(400, "mapper_parsing_exception", "failed to parse").
						cause(newErr(400, "not_x_content_exception", "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"))
				}
				op.src = m
			}
		}
		if op.op == "update" && op.id == "" {
			return fail(newErr(400, "action_request_validation_exception", "Validation Failed: 1: id is missing;"))
		}
		ops = append(ops, op)
	}
	return &bulkRequest{ops: ops}
}

// bulkItemResult is one item of a _bulk response (a struct, not a map: a 1000-item
// response is encoded many times per second during a rebuild).
type bulkItemResult struct {
	Index         string         `json:"_index"`
	Type          string         `json:"_type"`
	ID            string         `json:"_id"`
	Version       int64          `json:"_version,omitempty"`
	Result        string         `json:"result,omitempty"`
	ForcedRefresh bool           `json:"forced_refresh,omitempty"`
	Shards        *shardCounts   `json:"_shards,omitempty"`
	SeqNo         json.Number    `json:"_seq_no,omitempty"`
	PrimaryTerm   int            `json:"_primary_term,omitempty"`
	Status        int            `json:"status"`
	Error         map[string]any `json:"error,omitempty"`
}

type shardCounts struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Failed     int `json:"failed"`
}

var (
	itemShards = &shardCounts{Total: 2, Successful: 1}
	noopShards = &shardCounts{}
)

func seqNo(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func (s *server) bulk(w http.ResponseWriter, r *http.Request, req *bulkRequest) *esErr {
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
	if req.err != nil {
		return req.err
	}
	start := time.Now()
	items := make([]map[string]*bulkItemResult, 0, len(req.ops))
	errorsSeen := false
	touched := map[*index]bool{}
	for i := range req.ops {
		op := &req.ops[i]
		res := s.bulkItem(op, touched)
		if res.Error != nil {
			errorsSeen = true
		} else if refresh {
			res.ForcedRefresh = true
		}
		items = append(items, map[string]*bulkItemResult{op.op: res})
	}
	if refresh {
		for ix := range touched {
			s.refreshIndex(ix)
		}
	}
	writeJSON(w, 200, map[string]any{"took": time.Since(start).Milliseconds(), "errors": errorsSeen, "items": items})
	return nil
}

func itemErr(bl bulkLine, indexName string, e *esErr) *bulkItemResult {
	return &bulkItemResult{Index: indexName, Type: "_doc", ID: bl.id, Status: e.status, Error: e.detail()}
}

func (s *server) bulkItem(op *bulkOp, touched map[*index]bool) *bulkItemResult {
	bl := op.bulkLine
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
			return &bulkItemResult{Index: ix.name, Type: "_doc", ID: bl.id, Version: 1, Result: "not_found",
				Shards: itemShards, SeqNo: seqNo(ix.seqNo), PrimaryTerm: 1, Status: 404}
		}
		delete(ix.docs, bl.id)
		ix.seqNo++
		ix.dirty, ix.rewritten = true, true
		touched[ix] = true
		return &bulkItemResult{Index: ix.name, Type: "_doc", ID: bl.id, Version: existing.version + 1, Result: "deleted",
			Shards: itemShards, SeqNo: seqNo(ix.seqNo - 1), PrimaryTerm: 1, Status: 200}
	case "create", "index":
		if op.srcErr != nil {
			return itemErr(bl, ix.name, op.srcErr)
		}
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
		newSrc = op.src
	case "update":
		upsertDoc := false
		detectNoop := true
		var doc, upsert map[string]any
		for k, v := range op.src {
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
			merged, changed := mergeDoc(existing.source, doc)
			if detectNoop && !changed {
				return &bulkItemResult{Index: ix.name, Type: "_doc", ID: bl.id, Version: existing.version, Result: "noop",
					Shards: noopShards, SeqNo: seqNo(existing.seqNo), PrimaryTerm: 1, Status: 200}
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
	// Validate against the stored mapping; only a document that adds a dynamic field pays
	// for a copy of the mapping (the stored one is never changed in place).
	p := &docParser{id: bl.id, root: ix.mapping, readOnly: true}
	e = p.object(p.root, "", newSrc, "")
	if e == errNeedsMapping {
		p = &docParser{id: bl.id, root: ix.mapping.clone()}
		e = p.object(p.root, "", newSrc, "")
	}
	if e != nil {
		return itemErr(bl, ix.name, e)
	}
	ix.mapping = p.root
	d := &document{id: bl.id, source: newSrc, version: 1, seqNo: ix.seqNo}
	if existing != nil {
		d.version, d.order = existing.version+1, existing.order
		ix.rewritten = true
	} else {
		s.order++
		d.order = s.order
		ix.pending = append(ix.pending, d)
	}
	ix.seqNo++
	ix.docs[bl.id] = d
	ix.dirty = true
	touched[ix] = true
	return &bulkItemResult{Index: ix.name, Type: "_doc", ID: bl.id, Version: d.version, Result: result,
		Shards: itemShards, SeqNo: seqNo(d.seqNo), PrimaryTerm: 1, Status: status}
}

// jsonToken names a decoded JSON value's token type, for error messages.
func jsonToken(v any) string {
	switch v.(type) {
	case []any:
		return "START_ARRAY"
	case string:
		return "VALUE_STRING"
	case nil:
		return "VALUE_NULL"
	case bool:
		return "VALUE_BOOLEAN"
	}
	return "VALUE_NUMBER"
}
