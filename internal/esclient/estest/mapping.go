package estest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// field is one mapped field (or the root / an object).
type field struct {
	typ         string            // text, keyword, long, ..., object, nested
	props       map[string]*field // object / nested
	fields      map[string]*field // multi-fields (e.g. .keyword)
	ignoreAbove int
	fielddata   bool
	formats     []dateFormat
	formatRaw   string
	dynamic     string // objects: "", "true", "false", "strict"
}

func (f *field) clone() *field {
	if f == nil {
		return nil
	}
	c := *f
	if f.props != nil {
		c.props = make(map[string]*field, len(f.props))
		for k, v := range f.props {
			c.props[k] = v.clone()
		}
	}
	if f.fields != nil {
		c.fields = make(map[string]*field, len(f.fields))
		for k, v := range f.fields {
			c.fields[k] = v.clone()
		}
	}
	return &c
}

// toJSON renders the mapping like GET /<index>/_mapping.
func (f *field) toJSON() map[string]any {
	m := map[string]any{}
	if f.typ != "object" || f.props == nil {
		m["type"] = f.typ
	}
	if f.typ == "nested" {
		m["type"] = "nested"
	}
	if f.props != nil {
		p := map[string]any{}
		for k, v := range f.props {
			p[k] = v.toJSON()
		}
		m["properties"] = p
	}
	if len(f.fields) > 0 {
		p := map[string]any{}
		for k, v := range f.fields {
			p[k] = v.toJSON()
		}
		m["fields"] = p
	}
	if f.ignoreAbove > 0 {
		m["ignore_above"] = f.ignoreAbove
	}
	if f.fielddata {
		m["fielddata"] = true
	}
	if f.formatRaw != "" {
		m["format"] = f.formatRaw
	}
	if f.dynamic != "" {
		m["dynamic"] = f.dynamic
	}
	return m
}

var leafTypes = map[string]bool{
	"text": true, "keyword": true, "long": true, "integer": true, "short": true, "byte": true,
	"double": true, "float": true, "half_float": true, "scaled_float": true, "boolean": true, "date": true,
}

var rootKeys = map[string]bool{
	"properties": true, "dynamic": true, "_source": true, "_meta": true, "date_detection": true,
	"numeric_detection": true, "_routing": true,
}

func dynamicValue(v any) (string, *esErr) {
	switch x := v.(type) {
	case bool:
		return strconv.FormatBool(x), nil
	case string:
		switch x {
		case "true", "false", "strict":
			return x, nil
		}
	}
	return "", newErr(400, "mapper_parsing_exception", "Failed to parse mapping [_doc]: dynamic must be true, false or strict, got [%v]", v)
}

// parseRootMapping parses the "mappings" object of PUT /<index>.
func parseRootMapping(raw any) (*field, *esErr) {
	root := &field{typ: "object", props: map[string]*field{}}
	if raw == nil {
		return root, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, newErr(400, "mapper_parsing_exception", "Failed to parse mapping [_doc]: mappings must be an object")
	}
	var bad []string
	for k := range m {
		if !rootKeys[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, newErr(400, "mapper_parsing_exception",
			"Root mapping definition has unsupported parameters:  [%s]", strings.Join(bad, ", "))
	}
	if d, ok := m["dynamic"]; ok {
		s, e := dynamicValue(d)
		if e != nil {
			return nil, e
		}
		root.dynamic = s
	}
	if p, ok := m["properties"]; ok {
		props, e := parseProps(p, "")
		if e != nil {
			return nil, e
		}
		root.props = props
	}
	return root, nil
}

func parseProps(raw any, prefix string) (map[string]*field, *esErr) {
	pm, ok := raw.(map[string]any)
	if !ok {
		return nil, newErr(400, "mapper_parsing_exception", "Failed to parse mapping [_doc]: properties of [%s] must be an object", prefix)
	}
	out := map[string]*field{}
	for name, def := range pm {
		f, e := parseField(prefix+name, def)
		if e != nil {
			return nil, e
		}
		out[name] = f
	}
	return out, nil
}

func parseField(path string, raw any) (*field, *esErr) {
	def, ok := raw.(map[string]any)
	if !ok {
		return nil, newErr(400, "mapper_parsing_exception", "Failed to parse mapping [_doc]: Expected map for property [fields] on field [%s]", path)
	}
	typ, _ := def["type"].(string)
	if typ == "" {
		if _, hasProps := def["properties"]; hasProps {
			typ = "object"
		} else {
			return nil, newErr(400, "mapper_parsing_exception", "No type specified for field [%s]", path)
		}
	}
	f := &field{typ: typ}
	switch {
	case typ == "object" || typ == "nested":
		f.props = map[string]*field{}
		if p, ok := def["properties"]; ok {
			props, e := parseProps(p, path+".")
			if e != nil {
				return nil, e
			}
			f.props = props
		}
		if d, ok := def["dynamic"]; ok {
			s, e := dynamicValue(d)
			if e != nil {
				return nil, e
			}
			f.dynamic = s
		}
		return f, nil
	case leafTypes[typ]:
	default:
		return nil, newErr(400, "mapper_parsing_exception", "No handler for type [%s] declared on field [%s]", typ, path)
	}
	if v, ok := def["ignore_above"]; ok {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return nil, newErr(400, "mapper_parsing_exception", "Failed to parse mapping [_doc]: ignore_above of [%s] must be an integer", path)
		}
		f.ignoreAbove = n
	}
	if v, ok := def["fielddata"].(bool); ok {
		f.fielddata = v
	}
	if typ == "date" {
		f.formatRaw = "strict_date_optional_time||epoch_millis"
		if s, ok := def["format"].(string); ok {
			f.formatRaw = s
		}
		fs, e := parseDateFormats(f.formatRaw, path)
		if e != nil {
			return nil, e
		}
		f.formats = fs
	}
	if fm, ok := def["fields"]; ok {
		subs, e := parseProps(fm, path+".")
		if e != nil {
			return nil, e
		}
		for n, s := range subs {
			if !leafTypes[s.typ] {
				return nil, newErr(400, "mapper_parsing_exception", "Type [%s] cannot be used in multi field [%s.%s]", s.typ, path, n)
			}
		}
		f.fields = subs
	}
	return f, nil
}

// ---- dates ----

type dateFormat struct {
	name   string
	layout string // Go layout; "" for named parsers
}

// parseDateFormats converts an ES format string ("a||b") into parsers. Only
// the named formats and java-time letters below are supported; anything
// else is rejected at mapping time so the gap is visible.
func parseDateFormats(s, path string) ([]dateFormat, *esErr) {
	var out []dateFormat
	for _, part := range strings.Split(s, "||") {
		switch part {
		case "strict_date_optional_time", "date_optional_time", "epoch_millis", "strict_date", "date":
			out = append(out, dateFormat{name: part})
			continue
		}
		layout, ok := javaToGoLayout(part)
		if !ok {
			return nil, unsupported("date format [%s] on field [%s]", part, path)
		}
		out = append(out, dateFormat{name: part, layout: layout})
	}
	return out, nil
}

func javaToGoLayout(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		if c == '\'' {
			j := strings.IndexByte(p[i+1:], '\'')
			if j < 0 {
				return "", false
			}
			b.WriteString(p[i+1 : i+1+j])
			i += j + 2
			continue
		}
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			tok := p[i:j]
			switch tok {
			case "uuuu", "yyyy":
				b.WriteString("2006")
			case "MM":
				b.WriteString("01")
			case "dd":
				b.WriteString("02")
			case "HH":
				b.WriteString("15")
			case "mm":
				b.WriteString("04")
			case "ss":
				b.WriteString("05")
			case "SSS":
				// Go needs the fraction right after seconds with '.'.
				s := b.String()
				if !strings.HasSuffix(s, "05.") {
					return "", false
				}
				b.WriteString("000")
			default:
				return "", false
			}
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), true
}

var optionalTimeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02T15Z07:00", "2006-01-02T15",
	"2006-01-02", "2006-01", "2006",
}

// parseDate returns epoch millis for a date value, or an error reason.
func parseDate(f *field, v any) (int64, bool) {
	s := keywordString(v)
	for _, df := range f.formats {
		switch df.name {
		case "epoch_millis":
			if n, err := strconv.ParseFloat(s, 64); err == nil {
				return int64(n), true
			}
		case "strict_date_optional_time", "date_optional_time":
			if ms, ok := parseOptionalTime(s); ok {
				return ms, true
			}
		case "strict_date", "date":
			if t, err := time.Parse("2006-01-02", s); err == nil {
				return t.UnixMilli(), true
			}
		default:
			if t, err := time.Parse(df.layout, s); err == nil {
				return t.UnixMilli(), true
			}
		}
	}
	return 0, false
}

// parseOptionalTime parses strict_date_optional_time. The layouts are tried from the one
// the value's length and shape can match, as trying all of them for every date of every
// document dominated bulk indexing.
func parseOptionalTime(s string) (int64, bool) {
	first := 0
	switch {
	case len(s) == 10 && s[4] == '-':
		first = 6 // 2006-01-02
	case len(s) > 10 && s[10] == 'T' && !strings.ContainsAny(s[10:], "Z+-"):
		first = 1 // no zone
	}
	for k := range optionalTimeLayouts {
		l := optionalTimeLayouts[(first+k)%len(optionalTimeLayouts)]
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

// ---- documents ----

// docParser validates a source document against the mapping, adding dynamic fields as
// Elasticsearch does. With readOnly set it never changes the mapping: a document that
// needs a new field fails with errNeedsMapping, and the caller retries on a clone. This
// keeps the common case (every field already mapped) free of a mapping copy per document,
// and a mapping, once stored on an index, immutable (queries memoize field resolution
// by its pointer).
type docParser struct {
	id       string
	root     *field
	readOnly bool
	sorted   bool // check members in key order (see object)
}

// errNeedsMapping is returned by a readOnly docParser for a document that would add a
// dynamic field.
var errNeedsMapping = &esErr{status: 500, typ: "estest_needs_mapping", reason: "estest: internal: mapping update needed"}

func preview(v any) string {
	switch x := v.(type) {
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func (p *docParser) fail(path string, f *field, v any, cause *esErr) *esErr {
	return newErr(400, "mapper_parsing_exception",
		"failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'",
		path, f.typ, p.id, preview(v)).cause(cause)
}

func (p *docParser) object(obj *field, prefix string, m map[string]any, dyn string) *esErr {
	if obj.dynamic != "" {
		dyn = obj.dynamic
	}
	if !p.sorted {
		// Fast path: map order. A document that fails is checked again in key order,
		// so the error reported (the first failing field) does not depend on map order.
		ok := true
		for k, v := range m {
			if e := p.member(obj, prefix, k, v, dyn); e != nil {
				if e == errNeedsMapping {
					return e
				}
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	saved := p.sorted
	p.sorted = true
	defer func() { p.sorted = saved }()
	for _, k := range keys {
		if e := p.member(obj, prefix, k, m[k], dyn); e != nil {
			return e
		}
	}
	return nil
}

// member checks one member k of an object (path prefix+k).
func (p *docParser) member(obj *field, prefix, k string, v any, dyn string) *esErr {
	path := prefix + k
	if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
		return newErr(400, "mapper_parsing_exception", "field name cannot be an empty string")
	}
	if strings.Contains(k, ".") {
		return unsupported("dotted field name [%s] in a document", path)
	}
	if k == "_id" || k == "_index" || k == "_source" || k == "_routing" {
		return newErr(400, "mapper_parsing_exception",
			"Field [%s] is a metadata field and cannot be added inside a document. Use the index API request parameters.", k)
	}
	f := obj.props[k]
	if f == nil {
		switch dyn {
		case "strict":
			return newErr(400, "strict_dynamic_mapping_exception",
				"mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", k, strings.TrimSuffix(prefix, ".")+orDoc(prefix))
		case "false":
			return nil
		}
		f = inferField(v)
		if f == nil {
			return nil
		}
		if p.readOnly {
			return errNeedsMapping
		}
		obj.props[k] = f
	}
	return p.value(f, path, v, dyn)
}

func orDoc(prefix string) string {
	if prefix == "" {
		return "_doc"
	}
	return ""
}

func (p *docParser) value(f *field, path string, v any, dyn string) *esErr {
	if v == nil {
		return nil
	}
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if err := p.value(f, path, e, dyn); err != nil {
				return err
			}
		}
		return nil
	}
	if f.typ == "object" || f.typ == "nested" {
		m, ok := v.(map[string]any)
		if !ok {
			return newErr(400, "mapper_parsing_exception",
				"object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, path)
		}
		return p.object(f, path+".", m, dyn)
	}
	if _, ok := v.(map[string]any); ok {
		return p.fail(path, f, v, newErr(400, "illegal_state_exception", "Can't get text on a START_OBJECT"))
	}
	switch f.typ {
	case "text", "keyword":
		return nil
	case "boolean":
		if _, ok := toBool(v); !ok {
			return p.fail(path, f, v, newErr(400, "illegal_argument_exception",
				"Failed to parse value [%v] as only [true] or [false] are allowed.", v))
		}
	case "long", "integer", "short", "byte":
		if _, ok := toInteger(v, f.typ); !ok {
			return p.fail(path, f, v, newErr(400, "number_format_exception", "For input string: \"%v\"", v))
		}
	case "double", "float", "half_float", "scaled_float":
		if _, ok := toFloat(v); !ok {
			return p.fail(path, f, v, newErr(400, "number_format_exception", "For input string: \"%v\"", v))
		}
	case "date":
		if _, ok := parseDate(f, v); !ok {
			return p.fail(path, f, v, newErr(400, "illegal_argument_exception",
				"failed to parse date field [%v] with format [%s]", v, f.formatRaw))
		}
	}
	return nil
}

// inferField is Elasticsearch's default dynamic mapping for a new field.
func inferField(v any) *field {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		return &field{typ: "boolean"}
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return &field{typ: "float"}
		}
		return &field{typ: "long"}
	case float64:
		return &field{typ: "float"}
	case string:
		for _, l := range optionalTimeLayouts[:7] {
			if _, err := time.Parse(l, x); err == nil && strings.Contains(x, "-") {
				fs, _ := parseDateFormats("strict_date_optional_time||epoch_millis", "")
				return &field{typ: "date", formats: fs, formatRaw: "strict_date_optional_time||epoch_millis"}
			}
		}
		return &field{typ: "text", fields: map[string]*field{"keyword": {typ: "keyword", ignoreAbove: 256}}}
	case map[string]any:
		return &field{typ: "object", props: map[string]*field{}}
	case []any:
		for _, e := range x {
			if f := inferField(e); f != nil {
				return f
			}
		}
	}
	return nil
}

func toBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch x {
		case "true":
			return true, true
		case "false", "":
			return false, true
		}
	}
	return false, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func toInteger(v any, typ string) (int64, bool) {
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i, inRange(i, typ)
		}
	}
	if s, ok := v.(string); ok {
		if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return i, inRange(i, typ)
		}
	}
	if f > math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	i := int64(f) // coerce: truncates the fraction
	return i, inRange(i, typ)
}

func inRange(i int64, typ string) bool {
	switch typ {
	case "integer":
		return i >= math.MinInt32 && i <= math.MaxInt32
	case "short":
		return i >= math.MinInt16 && i <= math.MaxInt16
	case "byte":
		return i >= math.MinInt8 && i <= math.MaxInt8
	}
	return true
}

// ---- field resolution and indexed values ----

// resolve finds the mapping of a dotted field path. It returns the field,
// the source path (multi-field suffix removed) and whether the path goes
// through a nested object (such fields only match inside nested queries).
func resolve(root *field, path string) (f *field, src []string, throughNested bool) {
	segs := strings.Split(path, ".")
	cur := root
	for i, s := range segs {
		next := cur.props[s]
		if next == nil {
			return nil, nil, false
		}
		src = append(src, s)
		if next.typ == "object" || next.typ == "nested" {
			if next.typ == "nested" {
				throughNested = true
			}
			cur = next
			if i == len(segs)-1 {
				return next, src, throughNested
			}
			continue
		}
		rest := segs[i+1:]
		switch len(rest) {
		case 0:
			return next, src, throughNested
		case 1:
			if sub := next.fields[rest[0]]; sub != nil {
				return sub, src, throughNested
			}
		}
		return nil, nil, false
	}
	return nil, nil, false
}

// eachValue calls fn with each leaf value at path below v (arrays flattened at any
// level, nulls skipped) until fn returns false; it reports whether it ran to the end.
// It allocates nothing, which matters when a count walks hundreds of thousands of
// documents.
func eachValue(v any, path []string, fn func(any) bool) bool {
	for i, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			for _, e := range x {
				if !eachValue(e, path[i:], fn) {
					return false
				}
			}
			return true
		default:
			return true
		}
	}
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		for _, e := range x {
			if !eachValue(e, nil, fn) {
				return false
			}
		}
		return true
	}
	return fn(v)
}

// sourceValues returns the leaf values at path (arrays flattened).
func sourceValues(src map[string]any, path []string) []any {
	var out []any
	eachValue(src, path, func(v any) bool { out = append(out, v); return true })
	return out
}

// tokens is a small stand-in for the standard analyzer: split on anything
// that is not a letter or digit, lowercase.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func keywordString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// leafTerm is the term a keyword, boolean, numeric or date field indexes for one source
// value (text fields index tokens instead); false when nothing is indexed (ignore_above,
// a value that does not convert).
func leafTerm(f *field, v any) (string, bool) {
	switch f.typ {
	case "keyword":
		s := keywordString(v)
		if f.ignoreAbove > 0 && utf8.RuneCountInString(s) > f.ignoreAbove {
			return "", false
		}
		return s, true
	case "boolean":
		if b, ok := toBool(v); ok {
			return strconv.FormatBool(b), true
		}
	case "long", "integer", "short", "byte":
		if i, ok := toInteger(v, f.typ); ok {
			return strconv.FormatInt(i, 10), true
		}
	case "double", "float", "half_float", "scaled_float":
		if x, ok := toFloat(v); ok {
			return strconv.FormatFloat(x, 'g', -1, 64), true
		}
	case "date":
		if ms, ok := parseDate(f, v); ok {
			return strconv.FormatInt(ms, 10), true
		}
	}
	return "", false
}

// eachTerm calls fn with each term the field indexes for a document, as canonical strings
// (what term queries and doc values see), until fn returns false; it reports whether it
// ran to the end.
func eachTerm(f *field, src map[string]any, path []string, fn func(string) bool) bool {
	return eachValue(src, path, func(v any) bool {
		if f.typ == "text" {
			for _, t := range tokens(keywordString(v)) {
				if !fn(t) {
					return false
				}
			}
			return true
		}
		if t, ok := leafTerm(f, v); ok {
			return fn(t)
		}
		return true
	})
}

// indexedTerms returns the terms the field indexes for a document.
func indexedTerms(f *field, src map[string]any, path []string) []string {
	var out []string
	eachTerm(f, src, path, func(t string) bool { out = append(out, t); return true })
	return out
}

// queryTerm converts a term-query value to the canonical indexed form for f.
func queryTerm(f *field, v any) (string, bool) {
	switch f.typ {
	case "keyword", "text":
		return keywordString(v), true
	case "boolean":
		b, ok := toBool(v)
		return strconv.FormatBool(b), ok
	case "long", "integer", "short", "byte":
		i, ok := toInteger(v, f.typ)
		return strconv.FormatInt(i, 10), ok
	case "double", "float", "half_float", "scaled_float":
		x, ok := toFloat(v)
		return strconv.FormatFloat(x, 'g', -1, 64), ok
	case "date":
		ms, ok := parseDate(f, v)
		return strconv.FormatInt(ms, 10), ok
	}
	return "", false
}
