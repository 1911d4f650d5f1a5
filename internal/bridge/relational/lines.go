package relational

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/opsflow/opsflow/internal/bridge"
)

// maxNames bounds the column names a Relationalizer caches (records with ever new field
// names would grow the cache without end); past it the cache starts over.
const maxNames = 100_000

// Relationalizer relationalizes the NDJSON lines of one root table fast: it parses with a
// reused fastjson parser (no map[string]any), caches the column names and JSON paths of the
// fields it has seen, and reuses its rows' buffers. The rows a call returns, and their
// strings, are valid until the next call. Not safe for concurrent use.
type Relationalizer struct {
	root  string
	p     fastjson.Parser
	top   *node // the root row's fields
	nodes int
	rows  []Row
	path  []byte // the current row's path in the record (for join keys)
	kvs   [][]kv // the fields of the objects being walked, by depth
	depth int
	in    Inherited
	num   []byte
	// Trusted skips the strict validation of each line (done by an earlier pass).
	Trusted bool
	// KindsOnly leaves numbers unparsed where their kind is certain from their text (a
	// decimal fraction without exponent is a double): their cells' values are zero, for a
	// pass that only infers the schema (Schema.Observe reads kinds, not values).
	KindsOnly bool
}

type kv struct {
	k []byte
	v *fastjson.Value
}

// node is a field in its context (the table, the column prefix, the JSON path): the column
// name and source it gives, its fields when it holds an object, and for an array its child
// table and the contexts of the array's elements.
type node struct {
	table  string
	col    string // "" for an object context that is not a field (a row's top level)
	src    string
	field  bool   // a field: its fields' columns are prefixed with col
	rename string // an element context: fields named like added columns take rename_val_<name>
	skip   bool   // the root context: the inherited fields are not columns
	kids   map[string]*node

	child         string // the array's child table
	elemObj, elem *node  // an element that is an object; any other element ("val")
	shape         *shape // the fields of the last object seen here
}

// NewRelationalizer starts relationalizing records of the table root.
func NewRelationalizer(root string) *Relationalizer {
	r := &Relationalizer{root: root}
	r.reset()
	return r
}

func (r *Relationalizer) reset() {
	r.top = &node{table: r.root, skip: true}
	r.nodes = 0
}

func (r *Relationalizer) kid(n *node, k []byte) *node {
	if c := n.kids[string(k)]; c != nil {
		return c
	}
	if r.nodes++; r.nodes > maxNames {
		r.reset()
	}
	key := string(k)
	name := key
	if n.rename != "" && (key == ColID || key == ColIndex || slices.Contains(InheritedColumns, key)) {
		name = n.rename + "_val_" + key
	}
	c := &node{table: n.table, col: name, src: joinSrc(n.src, key), field: true}
	if n.field {
		c.col = n.col + "_" + name
	}
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	n.kids[key] = c
	return c
}

// arrayNodes fills an array field's child table and element contexts.
func (n *node) arrayNodes() {
	if n.child != "" {
		return
	}
	n.child = bridge.ChildTableName(n.table, n.col)
	n.elemObj = &node{table: n.child, src: n.src + "[]", rename: n.col}
	n.elem = &node{table: n.child, col: ColVal, src: n.src + "[]", field: true}
}

// Line gives the rows of one NDJSON line as Decode and Relationalize would (the same rows,
// errors aside from the parser's wording).
func (r *Relationalizer) Line(line []byte, lineNo int, in Inherited) ([]Row, error) {
	if !utf8.Valid(line) || hasSurrogateEscape(line) {
		// encoding/json replaces invalid UTF-8 and lone surrogates with U+FFFD: let it.
		doc, err := Decode(line)
		if err != nil {
			return nil, err
		}
		return Relationalize(r.root, doc, lineNo, in)
	}
	if !r.Trusted {
		if err := fastjson.ValidateBytes(line); err != nil {
			return nil, err
		}
	}
	v, err := r.p.ParseBytes(line)
	if err != nil {
		return nil, err
	}
	return r.value(v, lineNo, in)
}

func hasSurrogateEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || i+2 >= len(b) {
			return false
		}
		if c := b[i+2]; c == 'd' || c == 'D' {
			return true
		}
		b = b[i+2:]
	}
}

func (r *Relationalizer) value(doc *fastjson.Value, lineNo int, in Inherited) ([]Row, error) {
	obj, err := doc.Object()
	if err != nil {
		return nil, fmt.Errorf("the record is a JSON %s, not an object", fastKind(doc))
	}
	r.in = in
	inherited := [...]string{in.AssessmentID, in.Year, in.Month, in.Day, in.RecordID}
	for i, name := range InheritedColumns {
		v := lastValue(obj, name)
		if v == nil || v.Type() == fastjson.TypeNull {
			continue
		}
		var s string
		ok := true
		switch v.Type() {
		case fastjson.TypeString:
			s = string(v.GetStringBytes())
		case fastjson.TypeNumber:
			s = string(v.MarshalTo(nil))
		default:
			ok = false
		}
		if !ok || !samePartitionValue(name, s, inherited[i]) {
			return nil, fmt.Errorf("the record's field %s %s differs from its %s %q", name, jsonText(toAny(v)), name, inherited[i])
		}
	}
	r.rows = r.rows[:0]
	at := r.reserve()
	r.rows[at] = Row{Table: r.root, Cells: r.rows[at].Cells[:0]}
	r.path = strconv.AppendInt(r.path[:0], int64(lineNo), 10)
	r.depth = 0
	if err := r.object(at, r.top, obj); err != nil {
		return nil, err
	}
	return r.rows, nil
}

// reserve adds a row slot, keeping the cells' buffer a previous record left in it.
func (r *Relationalizer) reserve() int {
	if len(r.rows) < cap(r.rows) {
		r.rows = r.rows[:len(r.rows)+1]
	} else {
		r.rows = append(r.rows, Row{})
	}
	return len(r.rows) - 1
}

// lastValue is an object's field as encoding/json decodes it (the last of duplicates).
func lastValue(o *fastjson.Object, key string) *fastjson.Value {
	var out *fastjson.Value
	o.Visit(func(k []byte, v *fastjson.Value) {
		if string(k) == key {
			out = v
		}
	})
	return out
}

// object adds the fields of obj (context n) to row at, sorted by name, the last of
// duplicates. Rows are addressed by index: r.rows grows while an array's rows are added.
func (r *Relationalizer) object(at int, n *node, obj *fastjson.Object) error {
	if r.depth == len(r.kvs) {
		r.kvs = append(r.kvs, nil)
	}
	fields := r.kvs[r.depth][:0]
	obj.Visit(func(k []byte, v *fastjson.Value) { fields = append(fields, kv{k, v}) })
	r.kvs[r.depth] = fields
	r.depth++
	defer func() { r.depth-- }()
	sh := n.shape
	if !sh.fits(fields) {
		sh = r.newShape(n, fields)
		n.shape = sh
	}
	for j, kid := range sh.kids {
		if err := r.field(at, kid, fields[sh.at[j]].v); err != nil {
			return err
		}
	}
	return nil
}

// shape is the last keys (in the record's order) an object context saw, and what they
// give: the fields' nodes in column order (sorted, the last of duplicates, the root's
// inherited fields left out) and where each is among the keys. Records of a dataset mostly
// have the same keys in the same order: no sorting or name look-up for them.
type shape struct {
	keys []string
	kids []*node
	at   []int
}

func (sh *shape) fits(fields []kv) bool {
	if sh == nil || len(sh.keys) != len(fields) {
		return false
	}
	for i, f := range fields {
		if sh.keys[i] != string(f.k) {
			return false
		}
	}
	return true
}

func (r *Relationalizer) newShape(n *node, fields []kv) *shape {
	sh := &shape{keys: make([]string, len(fields))}
	order := make([]int, len(fields))
	for i, f := range fields {
		sh.keys[i] = string(f.k)
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return bytes.Compare(fields[a].k, fields[b].k) })
	for j, i := range order {
		if j+1 < len(order) && bytes.Equal(fields[order[j+1]].k, fields[i].k) {
			continue // a duplicate: the last one counts
		}
		if n.skip && slices.Contains(InheritedColumns, sh.keys[i]) {
			continue
		}
		sh.kids = append(sh.kids, r.kid(n, fields[i].k))
		sh.at = append(sh.at, i)
	}
	return sh
}

// field adds v, the value of field n, to row at.
func (r *Relationalizer) field(at int, n *node, v *fastjson.Value) error {
	if n.col == "" {
		return fmt.Errorf("field %q has an empty name", n.src)
	}
	switch v.Type() {
	case fastjson.TypeNull:
		r.add(at, Cell{Column: n.col, Kind: Null, Source: n.src})
	case fastjson.TypeTrue:
		r.add(at, Cell{Column: n.col, Kind: Bool, num: 1, Source: n.src})
	case fastjson.TypeFalse:
		r.add(at, Cell{Column: n.col, Kind: Bool, Source: n.src})
	case fastjson.TypeString:
		b := v.GetStringBytes()
		r.add(at, Cell{Column: n.col, Kind: String, str: unsafe.String(unsafe.SliceData(b), len(b)), Source: n.src})
	case fastjson.TypeNumber:
		r.num = v.MarshalTo(r.num[:0])
		if r.KindsOnly && plainFraction(r.num) {
			r.add(at, Cell{Column: n.col, Kind: Double, Source: n.src})
			return nil
		}
		c, err := numberText(unsafe.String(unsafe.SliceData(r.num), len(r.num)))
		if err != nil {
			return fmt.Errorf("field %s: %w", n.src, err)
		}
		c.Column, c.Source = n.col, n.src
		r.add(at, c)
	case fastjson.TypeObject:
		r.add(at, Cell{Column: n.col, Kind: Object, Source: n.src})
		o, _ := v.Object()
		return r.object(at, n, o)
	case fastjson.TypeArray:
		n.arrayNodes()
		key := joinKey(r.in.RecordID, r.path, n.col)
		r.add(at, Cell{Column: n.col, Kind: Array, Value: key, num: uint64(key), Source: n.src})
		elems, _ := v.Array()
		base := len(r.path)
		for i, e := range elems {
			r.path = append(r.path, '/')
			r.path = append(r.path, n.col...)
			r.path = append(r.path, '[')
			r.path = strconv.AppendInt(r.path, int64(i), 10)
			r.path = append(r.path, ']')
			c := r.reserve()
			r.rows[c] = Row{Table: n.child, Parent: r.rows[at].Table, Child: true, ID: key, Index: int64(i), Cells: r.rows[c].Cells[:0]}
			var err error
			if e.Type() == fastjson.TypeObject {
				o, _ := e.Object()
				err = r.object(c, n.elemObj, o)
			} else {
				err = r.field(c, n.elem, e)
			}
			if err != nil {
				return err
			}
			r.path = r.path[:base]
		}
	}
	return nil
}

func (r *Relationalizer) add(at int, c Cell) {
	r.rows[at].Cells = append(r.rows[at].Cells, c)
}
