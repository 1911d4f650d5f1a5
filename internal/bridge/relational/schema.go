package relational

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/opsflow/opsflow/internal/bridge"
)

// Type is a written column's type.
type Type string

// The written types (the join key of an array is an Int64).
const (
	TypeInt64  Type = "int64"
	TypeDouble Type = "double"
	TypeString Type = "string"
	TypeBool   Type = "boolean"
)

// Column is a written column.
type Column struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// Table is a table as inferred from every record observed: its written columns in order,
// its untyped columns (null in every record, not written), its parent ("" for the root) and
// how many rows the records gave it (0 when every array of that field was empty).
type Table struct {
	Name    string   `json:"table"`
	Parent  string   `json:"parent,omitempty"`
	Columns []Column `json:"columns"`
	Untyped []string `json:"untyped_columns,omitempty"`
	Rows    int64    `json:"rows"`
}

// Conflict is a column whose values cannot share one type (or two fields that flatten to one
// column), with the first record seen each way.
type Conflict struct {
	Table, Column string
	// First and Second are the two types (e.g. "string", "int64"), or for a name clash the
	// two JSON paths.
	First, Second             string
	FirstRecord, SecondRecord string
	NameClash                 bool
}

// String describes the conflict for an error message.
func (c Conflict) String() string {
	if c.NameClash && c.Column == "" {
		return fmt.Sprintf("table %s is both %s (record %s) and %s (record %s)",
			c.Table, c.First, c.FirstRecord, c.Second, c.SecondRecord)
	}
	if c.NameClash {
		return fmt.Sprintf("table %s column %q: fields %s (record %s) and %s (record %s) flatten to the same name",
			c.Table, c.Column, c.First, c.FirstRecord, c.Second, c.SecondRecord)
	}
	return fmt.Sprintf("table %s column %q: %s in record %s, %s in record %s",
		c.Table, c.Column, c.First, c.FirstRecord, c.Second, c.SecondRecord)
}

// MaxConflicts bounds the conflicts kept (one per column).
const MaxConflicts = 50

// Schema infers tables and column types from records' rows, one record at a time.
type Schema struct {
	root      string
	tables    map[string]*tableInfo
	conflicts []Conflict
	seen      map[string]bool // table + column with a conflict already kept
}

type tableInfo struct {
	name, parent string
	record       string // the first record that gave the table
	cols         map[string]*colInfo
	rows         int64
	arrays       map[string]bool // the columns whose child table was looked up
}

type colInfo struct {
	kind   Kind
	record string // the first record that gave the column its kind
	source string
	srcRec string
}

// NewSchema starts inferring the tables of root (the dataset's table, e.g. dataset_x_v1).
func NewSchema(root string) *Schema {
	s := &Schema{root: root, tables: map[string]*tableInfo{}, seen: map[string]bool{}}
	s.table(root, "", "")
	return s
}

// table finds or adds a table; two different parents giving it the same name (e.g. a root
// array a_b and an array b in the child of a) is a name clash.
func (s *Schema) table(name, parent, recordID string) *tableInfo {
	t := s.tables[name]
	if t == nil {
		t = &tableInfo{name: name, parent: parent, record: recordID, cols: map[string]*colInfo{}}
		s.tables[name] = t
	} else if t.parent != parent {
		s.conflict(Conflict{Table: name, First: "an array of " + t.parent, Second: "an array of " + parent,
			FirstRecord: t.record, SecondRecord: recordID, NameClash: true})
	}
	return t
}

// Observe adds one record's rows (from Relationalize) to the inference.
func (s *Schema) Observe(rows []Row, recordID string) {
	for _, row := range rows {
		t := s.table(row.Table, row.Parent, recordID)
		t.rows++
		for _, c := range row.Cells {
			s.cell(t, c, recordID)
		}
	}
}

func (s *Schema) cell(t *tableInfo, c Cell, recordID string) {
	if c.Kind == Array && !t.arrays[c.Column] {
		// The child table exists even when every array is empty.
		s.table(bridge.ChildTableName(t.name, c.Column), t.name, recordID)
		if t.arrays == nil {
			t.arrays = map[string]bool{}
		}
		t.arrays[c.Column] = true
	}
	ci := t.cols[c.Column]
	if ci == nil {
		t.cols[c.Column] = &colInfo{kind: c.Kind, record: recordID, source: c.Source, srcRec: recordID}
		return
	}
	if ci.source != c.Source {
		s.conflict(Conflict{Table: t.name, Column: c.Column, First: ci.source, Second: c.Source,
			FirstRecord: ci.srcRec, SecondRecord: recordID, NameClash: true})
		return
	}
	k, ok := merge(ci.kind, c.Kind)
	if !ok {
		s.conflict(Conflict{Table: t.name, Column: c.Column, First: ci.kind.String(), Second: c.Kind.String(),
			FirstRecord: ci.record, SecondRecord: recordID})
		return
	}
	if k != ci.kind && ci.kind == Null {
		ci.record = recordID
	}
	ci.kind = k
}

func (s *Schema) conflict(c Conflict) {
	key := c.Table + "\x00" + c.Column
	if s.seen[key] || len(s.conflicts) >= MaxConflicts {
		return
	}
	s.seen[key] = true
	s.conflicts = append(s.conflicts, c)
}

// merge is the type two kinds of one column share: null fits anything, int64 and double
// make double, anything else must be equal.
func merge(a, b Kind) (Kind, bool) {
	switch {
	case a == b:
		return a, true
	case a == Null:
		return b, true
	case b == Null:
		return a, true
	case (a == Int64 && b == Double) || (a == Double && b == Int64):
		return Double, true
	}
	return a, false
}

// Conflicts are the conflicts found so far (at most MaxConflicts, one per column).
func (s *Schema) Conflicts() []Conflict { return slices.Clone(s.conflicts) }

// Final is a schema without conflicts, ready to encode rows in its columns' order.
type Final struct {
	tables []Table
	byName map[string]*finalTable
}

type finalTable struct {
	Table
	pos   map[string]int
	kind  map[string]Kind
	slots map[string]slot // kind and pos in one look-up (pos -1: not written)
}

type slot struct {
	pos  int
	kind Kind
}

// Final fixes the tables' columns and types; it fails when there is any conflict.
func (s *Schema) Final() (*Final, error) {
	if len(s.conflicts) > 0 {
		msgs := make([]string, len(s.conflicts))
		for i, c := range s.conflicts {
			msgs[i] = c.String()
		}
		return nil, fmt.Errorf("type conflicts: %s", strings.Join(msgs, "; "))
	}
	f := &Final{byName: map[string]*finalTable{}}
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := s.tables[n]
		ft := &finalTable{Table: Table{Name: n, Parent: t.parent, Rows: t.rows}, pos: map[string]int{}, kind: map[string]Kind{}}
		if t.parent != "" {
			ft.Columns = append(ft.Columns, Column{ColID, TypeInt64}, Column{ColIndex, TypeInt64})
		}
		cols := make([]string, 0, len(t.cols))
		for c := range t.cols {
			cols = append(cols, c)
		}
		slices.Sort(cols)
		for _, c := range cols {
			ci := t.cols[c]
			ft.kind[c] = ci.kind
			switch ci.kind {
			case Null:
				ft.Untyped = append(ft.Untyped, c)
			case Object:
			default:
				ft.Columns = append(ft.Columns, Column{c, typeOf(ci.kind)})
			}
		}
		for _, c := range InheritedColumns {
			ft.Columns = append(ft.Columns, Column{c, TypeString})
		}
		for i, c := range ft.Columns {
			ft.pos[c.Name] = i
		}
		ft.slots = make(map[string]slot, len(ft.kind))
		for c, k := range ft.kind {
			p, ok := ft.pos[c]
			if !ok {
				p = -1
			}
			ft.slots[c] = slot{pos: p, kind: k}
		}
		f.tables = append(f.tables, ft.Table)
		f.byName[n] = ft
	}
	return f, nil
}

func typeOf(k Kind) Type {
	switch k {
	case Bool:
		return TypeBool
	case Int64, Array:
		return TypeInt64
	case Double:
		return TypeDouble
	}
	return TypeString
}

// Tables are the tables in name order (the root first, a parent before its children).
func (f *Final) Tables() []Table { return slices.Clone(f.tables) }

// Table is the table named, if the schema has it.
func (f *Final) Table(name string) (Table, bool) {
	t, ok := f.byName[name]
	if !ok {
		return Table{}, false
	}
	return t.Table, true
}

// Encode gives row's values in its table's column order (nil for null), with the inherited
// columns from in. A row the schema did not observe (a column or type it does not know) is
// an error: the data changed since inference.
func (f *Final) Encode(row Row, in Inherited) ([]any, error) {
	cells, err := f.Place(nil, row)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(cells))
	for i, c := range cells {
		switch c.Kind {
		case Double:
			out[i] = c.Float()
		case Null:
		default:
			out[i] = c.Val()
		}
	}
	base := len(out) - len(InheritedColumns)
	for i, v := range in.values() {
		out[base+i] = v
	}
	return out, nil
}

// Place puts row's cells in its table's column order into dst's memory (grown when too
// short): a zero (Null) cell where the row has no value, the child's id and index as Int64
// cells, an int64 in a double column converted to a Double cell, and the last
// len(InheritedColumns) cells left Null for the caller's inherited values. Errors as Encode.
func (f *Final) Place(dst []Cell, row Row) ([]Cell, error) {
	t, ok := f.byName[row.Table]
	if !ok {
		return nil, fmt.Errorf("table %s was not in the records the schema was inferred from", row.Table)
	}
	out := slices.Grow(dst[:0], len(t.Columns))[:len(t.Columns)]
	clear(out)
	if row.Child {
		out[0] = Cell{Kind: Int64, num: uint64(row.ID)}
		out[1] = Cell{Kind: Int64, num: uint64(row.Index)}
	}
	for _, c := range row.Cells {
		sl, known := t.slots[c.Column]
		k := sl.kind
		if !known {
			return nil, fmt.Errorf("table %s column %q was not in the records the schema was inferred from", row.Table, c.Column)
		}
		if c.Kind == Null || c.Kind == Object {
			continue
		}
		switch {
		case c.Kind == k:
		case c.Kind == Int64 && k == Double:
			c.Value, c.num, c.Kind = nil, math.Float64bits(c.Float()), Double
		default:
			return nil, fmt.Errorf("table %s column %q: a %s value where the schema has %s", row.Table, c.Column, c.Kind, k)
		}
		out[sl.pos] = c
	}
	return out, nil
}
