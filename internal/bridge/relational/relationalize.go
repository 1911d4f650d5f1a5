// Package relational turns a Bridge dataset's JSON records into flat tables the way the
// original BridgeDownstream does with AWS Glue's Relationalize (facts A4), without Spark:
//
//   - nested objects are flattened, their names joined with "_" (objectfield.filename →
//     objectfield_filename);
//   - each array becomes a child table <parent table>_<column>; the parent keeps <column> as
//     an int64 join key, the child's rows carry it as "id", their position in the array as
//     "index" (from 0), the element's flattened fields, and the inherited assessmentid,
//     year, month, day and recordid; an array of scalars gives the child a column "val"; an
//     array inside an element gives a grandchild table <child table>_<column> (an array of
//     arrays: <child table>_val); an empty array sets the join key and gives no child row;
//   - an element's field that would take the name of a column the child table adds (id,
//     index, assessmentid, year, month, day, recordid) is kept as <column>_val_<field>, as the
//     original keeps the long name when the short one clashes;
//   - null is null; a column null in every record of the table has no type: it is listed
//     as untyped and not written (a reader merging partitions by name sees it as null);
//   - columns: sorted by name, a child's id and index first, and the inherited columns last
//     in the order assessmentid, year, month, day, recordid. The partition columns are
//     strings, as the Glue tables declare the partition keys;
//   - types: int64 when every value is an integer, double when integers and other numbers
//     mix, string, boolean. Any other mix (string and number, boolean and number, an object
//     or array in one record and a scalar in another, two fields that flatten to the same
//     column) is a Conflict: nothing is coerced, the schema refuses to finalize.
//
// The join key is the FNV-64a hash of the record id, the row's path in the record and the
// column, so converting the same record again gives the same ids. Schema inference is
// streamed (Observe one record's rows at a time); memory is one record's rows. No I/O here.
package relational

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/opsflow/opsflow/internal/bridge"

	"github.com/opsflow/opsflow/internal/jsonstrict"
)

// Kind is what a cell holds, as inference sees it; Array and Object are structure, not data.
type Kind uint8

// The kinds of cells.
const (
	Null   Kind = iota // JSON null: fits any type
	Bool               // true/false
	Int64              // a number without fraction or exponent that fits int64
	Double             // any other number
	String             // a string
	Array              // an array: the cell is the join key to the child table (int64)
	Object             // a nested object: flattened into other columns, not written itself
)

// String names a kind in errors and conflicts.
func (k Kind) String() string {
	return [...]string{"null", "boolean", "int64", "double", "string", "array", "object"}[k]
}

// Names of the columns the relationalization adds.
const (
	ColID    = "id"    // a child row's join key to its parent row
	ColIndex = "index" // a child row's position in its array, from 0
	ColVal   = "val"   // an array's scalar (or array) element
)

// InheritedColumns end every table's columns, in this order: the partition and the record.
var InheritedColumns = []string{"assessmentid", "year", "month", "day", "recordid"}

// Inherited are a record's partition and id, which every row of the record carries.
type Inherited struct {
	AssessmentID, Year, Month, Day, RecordID string
}

// InheritedOf gives the inherited values of a record of partition p.
func InheritedOf(p bridge.Partition, recordID string) Inherited {
	return Inherited{AssessmentID: p.AssessmentID, Year: strconv.Itoa(p.Year), Month: strconv.Itoa(p.Month),
		Day: strconv.Itoa(p.Day), RecordID: recordID}
}

func (in Inherited) values() []string {
	return []string{in.AssessmentID, in.Year, in.Month, in.Day, in.RecordID}
}

// Cell is one column's value in a row, with the JSON path it came from (to tell two fields
// that flatten to the same name apart).
type Cell struct {
	Column string
	Kind   Kind
	Value  any // nil, bool, int64, float64, string; the join key (int64) for Array
	Source string
	// num and str hold a Relationalizer's scalars unboxed, Value left nil: an int64's, a
	// float64's or a bool's bits, a string. Val, Int, Float and Str read either form.
	num uint64
	str string
}

// Val is the cell's value as Value documents it, however the cell holds it.
func (c Cell) Val() any {
	if c.Value != nil {
		return c.Value
	}
	switch c.Kind {
	case Bool:
		return c.num != 0
	case Int64, Array:
		return int64(c.num)
	case Double:
		return math.Float64frombits(c.num)
	case String:
		return c.str
	}
	return nil
}

// Int is an Int64 or Array cell's value.
func (c Cell) Int() int64 {
	if v, ok := c.Value.(int64); ok {
		return v
	}
	return int64(c.num)
}

// Float is a Double cell's value (an Int64 cell's, converted).
func (c Cell) Float() float64 {
	switch v := c.Value.(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	if c.Kind == Int64 {
		return float64(int64(c.num))
	}
	return math.Float64frombits(c.num)
}

// Str is a String cell's value.
func (c Cell) Str() string {
	if v, ok := c.Value.(string); ok {
		return v
	}
	return c.str
}

// IsTrue is a Bool cell's value.
func (c Cell) IsTrue() bool {
	if v, ok := c.Value.(bool); ok {
		return v
	}
	return c.num != 0
}

// Row is one row of one table. Child rows have an ID and Index; the inherited columns are
// added when the row is encoded.
type Row struct {
	Table  string
	Parent string // the parent table ("" for the root)
	Child  bool
	ID     int64
	Index  int64
	Cells  []Cell
}

// Decode parses one NDJSON line, keeping numbers exact (json.Number).
func Decode(line []byte) (any, error) {
	var v any
	if err := jsonstrict.Decode(line, &v, jsonstrict.Options{UseNumber: true}); err != nil {
		return nil, err
	}
	return v, nil
}

// Relationalize gives the rows of one record (one NDJSON line, decoded with Decode) of the
// table root: the root row first, then each array's rows depth first. line numbers the
// record's lines (a record whose JSON is a list has one line per element) so that join keys
// differ between them. The record's own assessmentid, year, month, day and recordid fields
// (stage 1 injects them) must agree with in, which gives those columns.
func Relationalize(root string, doc any, line int, in Inherited) ([]Row, error) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the record is a JSON %s, not an object", kindName(doc))
	}
	r := &relationalizer{in: in}
	inherited := in.values()
	for i, name := range InheritedColumns {
		v, ok := obj[name]
		if !ok || v == nil {
			continue
		}
		if s, ok := scalarText(v); !ok || !samePartitionValue(name, s, inherited[i]) {
			return nil, fmt.Errorf("the record's field %s %s differs from its %s %q", name, jsonText(v), name, inherited[i])
		}
	}
	rootRow := Row{Table: root}
	rootRow.Cells = make([]Cell, 0, len(obj))
	if err := r.object(&rootRow, strconv.Itoa(line), nil, "", obj, func(k string) bool {
		return slices.Contains(InheritedColumns, k)
	}, ""); err != nil {
		return nil, err
	}
	r.rows = append([]Row{rootRow}, r.rows...)
	return r.rows, nil
}

type relationalizer struct {
	in   Inherited
	rows []Row // child rows, in depth-first order
}

// object adds obj's fields to row under prefix (column name parts) from JSON path src. skip
// drops top-level fields (the root's inherited ones); rename is the prefix a child's
// element field takes when it would clash with a column the child table adds.
func (r *relationalizer) object(row *Row, rowPath string, prefix []string, src string, obj map[string]any,
	skip func(string) bool, rename string) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if skip != nil && skip(k) {
			continue
		}
		name := k
		if rename != "" && (k == ColID || k == ColIndex || slices.Contains(InheritedColumns, k)) {
			name = rename + "_val_" + k
		}
		if err := r.value(row, rowPath, append(prefix[:len(prefix):len(prefix)], name), joinSrc(src, k), obj[k]); err != nil {
			return err
		}
	}
	return nil
}

func joinSrc(src, k string) string {
	if src == "" {
		return k
	}
	return src + "." + k
}

// value adds v at column prefix (joined with "_") to row.
func (r *relationalizer) value(row *Row, rowPath string, prefix []string, src string, v any) error {
	col := strings.Join(prefix, "_")
	if col == "" {
		return fmt.Errorf("field %q has an empty name", src)
	}
	switch x := v.(type) {
	case nil:
		row.Cells = append(row.Cells, Cell{Column: col, Kind: Null, Source: src})
	case bool:
		row.Cells = append(row.Cells, Cell{Column: col, Kind: Bool, Value: x, Source: src})
	case string:
		row.Cells = append(row.Cells, Cell{Column: col, Kind: String, Value: x, Source: src})
	case json.Number:
		c, err := number(x)
		if err != nil {
			return fmt.Errorf("field %s: %w", src, err)
		}
		c.Column, c.Source = col, src
		row.Cells = append(row.Cells, c)
	case float64: // a document not decoded with UseNumber
		c := Cell{Column: col, Kind: Double, Value: x, Source: src}
		if x == float64(int64(x)) && strconv.FormatFloat(x, 'f', -1, 64) == strconv.FormatInt(int64(x), 10) {
			c.Kind, c.Value = Int64, int64(x)
		}
		row.Cells = append(row.Cells, c)
	case map[string]any:
		row.Cells = append(row.Cells, Cell{Column: col, Kind: Object, Source: src})
		return r.object(row, rowPath, prefix, src, x, nil, "")
	case []any:
		key := JoinKey(r.in.RecordID, rowPath, col)
		row.Cells = append(row.Cells, Cell{Column: col, Kind: Array, Value: key, Source: src})
		child := bridge.ChildTableName(row.Table, col)
		for i, e := range x {
			crow := Row{Table: child, Parent: row.Table, Child: true, ID: key, Index: int64(i)}
			cpath := rowPath + "/" + col + "[" + strconv.Itoa(i) + "]"
			esrc := src + "[]"
			r.rows = append(r.rows, Row{}) // reserve the slot: the element's rows come after it
			at := len(r.rows) - 1
			var err error
			if m, ok := e.(map[string]any); ok {
				err = r.object(&crow, cpath, nil, esrc, m, nil, col)
			} else {
				err = r.value(&crow, cpath, []string{ColVal}, esrc, e)
			}
			if err != nil {
				return err
			}
			r.rows[at] = crow
		}
	default:
		return fmt.Errorf("field %s holds a Go %T, not a decoded JSON value", src, v)
	}
	return nil
}

// JoinKey is the int64 that joins a parent row's array column to its child rows: FNV-64a of
// the record id, the row's path in the record and the column, so it is the same each time
// the record is converted.
func JoinKey(recordID, rowPath, column string) int64 {
	h := fnv.New64a()
	h.Write([]byte(recordID))
	h.Write([]byte{0})
	h.Write([]byte(rowPath))
	h.Write([]byte{0})
	h.Write([]byte(column))
	return int64(h.Sum64())
}

func number(n json.Number) (Cell, error) {
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return Cell{Kind: Int64, Value: i}, nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil {
		return Cell{}, fmt.Errorf("number %s does not fit a double", n)
	}
	return Cell{Kind: Double, Value: f}, nil
}

// samePartitionValue compares a record's field with its partition's value: year, month and
// day as numbers (09 is 9), the others as text.
func samePartitionValue(name, got, want string) bool {
	if got == want {
		return true
	}
	if name == "year" || name == "month" || name == "day" {
		g, err1 := strconv.Atoi(got)
		w, err2 := strconv.Atoi(want)
		return err1 == nil && err2 == nil && g == w
	}
	return false
}

// scalarText is a scalar's text as a partition value (numbers as written).
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return "(" + kindName(v) + ")"
	}
	return string(b)
}

func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
