package estest

import "fmt"

// esErr is an Elasticsearch exception: type, reason, HTTP status and the
// extra metadata ES adds (index, index_uuid, resource.*).
type esErr struct {
	status   int
	typ      string
	reason   string
	meta     map[string]any
	causedBy *esErr
}

func newErr(status int, typ, format string, args ...any) *esErr {
	return &esErr{status: status, typ: typ, reason: fmt.Sprintf(format, args...)}
}

func (e *esErr) with(k string, v any) *esErr {
	if e.meta == nil {
		e.meta = map[string]any{}
	}
	e.meta[k] = v
	return e
}

func (e *esErr) cause(c *esErr) *esErr { e.causedBy = c; return e }

// detail is the exception object (as in bulk items and "caused_by").
func (e *esErr) detail() map[string]any {
	m := map[string]any{"type": e.typ, "reason": e.reason}
	for k, v := range e.meta {
		m[k] = v
	}
	if e.causedBy != nil {
		m["caused_by"] = e.causedBy.detail()
	}
	return m
}

// body is the top-level error response {"error":{...,"root_cause":[...]},"status":N}.
func (e *esErr) body() map[string]any {
	d := e.detail()
	root := e
	if e.typ == "search_phase_execution_exception" && e.causedBy != nil {
		root = e.causedBy
	}
	rc := map[string]any{"type": root.typ, "reason": root.reason}
	for k, v := range root.meta {
		rc[k] = v
	}
	d["root_cause"] = []any{rc}
	return map[string]any{"error": d, "status": e.status}
}

func indexNotFound(name string) *esErr {
	return newErr(404, "index_not_found_exception", "no such index [%s]", name).
		with("resource.type", "index_or_alias").with("resource.id", name).
		with("index_uuid", "_na_").with("index", name)
}

func unsupported(format string, args ...any) *esErr {
	return newErr(400, "illegal_argument_exception", "estest: "+format+" (not implemented by the test server)", args...)
}

func parseErr(format string, args ...any) *esErr {
	return newErr(400, "parsing_exception", format, args...)
}
