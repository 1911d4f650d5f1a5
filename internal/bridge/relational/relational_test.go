package relational

import (
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/bridge"
)

type rec struct {
	json string
	in   Inherited
}

type table struct {
	cols    []Column
	untyped []string
	rows    [][]any
}

// inh is a record of the original's fixture partition assessmentid=exampleassessment,
// year=2022, month=9 (the original's fixtures pad it: 09), day d.
func inh(recordID string, day int) Inherited {
	return InheritedOf(bridge.Partition{AssessmentID: "exampleassessment", Year: 2022, Month: 9, Day: day}, recordID)
}

// convert runs both passes on records (one line each): infer the schema, then encode every
// row, giving each table's columns and rows.
func convert(t *testing.T, root string, recs ...rec) (map[string]table, error) {
	t.Helper()
	s := NewSchema(root)
	for _, r := range recs {
		rows := relationalize(t, root, r)
		s.Observe(rows, r.in.RecordID)
	}
	f, err := s.Final()
	if err != nil {
		return nil, err
	}
	out := map[string]table{}
	for _, tb := range f.Tables() {
		out[tb.Name] = table{cols: tb.Columns, untyped: tb.Untyped, rows: [][]any{}}
	}
	for _, r := range recs {
		for _, row := range relationalize(t, root, r) {
			vals, err := f.Encode(row, r.in)
			require.NoError(t, err)
			tb := out[row.Table]
			tb.rows = append(tb.rows, vals)
			out[row.Table] = tb
		}
	}
	return out, nil
}

func relationalize(t *testing.T, root string, r rec) []Row {
	t.Helper()
	doc, err := Decode([]byte(r.json))
	require.NoError(t, err, r.json)
	rows, err := Relationalize(root, doc, 0, r.in)
	require.NoError(t, err, r.json)
	return rows
}

func names(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

func col(name string, typ Type) Column { return Column{Name: name, Type: typ} }

var inheritedCols = []Column{col("assessmentid", TypeString), col("year", TypeString), col("month", TypeString),
	col("day", TypeString), col("recordid", TypeString)}

func cols(c ...Column) []Column { return append(c, inheritedCols...) }

func childCols(c ...Column) []Column {
	return cols(append([]Column{col("id", TypeInt64), col("index", TypeInt64)}, c...)...)
}

func key(recordID, rowPath, column string) int64 { return JoinKey(recordID, rowPath, column) }

// The original's flat fixture (tests/test_json_s3_to_parquet/dataset=pytest_flat_table):
// 3 rows of 5 fields (recordid and the 4 partition columns).
func TestFlatTableAsTheOriginal(t *testing.T) {
	got, err := convert(t, "dataset_pytest_flat_table",
		rec{`{"recordid":"one"}`, inh("one", 1)},
		rec{`{"recordid":"two"}`, inh("two", 1)},
		rec{`{"recordid":"three"}`, inh("three", 2)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	tb := got["dataset_pytest_flat_table"]
	assert.Len(t, tb.cols, 5)
	assert.Equal(t, cols(), tb.cols)
	assert.Equal(t, [][]any{
		{"exampleassessment", "2022", "9", "1", "one"},
		{"exampleassessment", "2022", "9", "1", "two"},
		{"exampleassessment", "2022", "9", "2", "three"},
	}, tb.rows)
}

// The original's nested fixture and test_add_index_to_table's expectations: the root's
// columns, the child dataset_pytest_nested_table_arrayofobjectsfield's columns, and its rows
// (sorted by recordid, id and index left out, as the original compares them).
func TestNestedTableAsTheOriginal(t *testing.T) {
	fixture := func(id string) string {
		return `{"recordid":"` + id + `","arrayofobjectsfield":[{"filename":"` + id + `","timestamp":"` + id +
			`"}],"objectfield":{"filename":"` + id + `","timestamp":"` + id + `"}}`
	}
	recs := []rec{{fixture("one"), inh("one", 1)}, {fixture("two"), inh("two", 1)}, {fixture("three"), inh("three", 2)}}
	for _, r := range recs {
		doc, err := Decode([]byte(r.json))
		require.NoError(t, err)
		assert.Len(t, doc, 3, "3 fields + 4 partition columns: the original's 7 fields before relationalizing")
	}
	got, err := convert(t, "dataset_pytest_nested_table", recs...)
	require.NoError(t, err)
	require.Len(t, got, 2)

	root := got["dataset_pytest_nested_table"]
	assert.ElementsMatch(t, []string{"recordid", "arrayofobjectsfield", "objectfield_filename", "objectfield_timestamp",
		"assessmentid", "year", "month", "day"}, names(root.cols))
	assert.Equal(t, cols(col("arrayofobjectsfield", TypeInt64), col("objectfield_filename", TypeString),
		col("objectfield_timestamp", TypeString)), root.cols, "sorted, partition and record columns last")
	require.Len(t, root.rows, 3)

	child := got["dataset_pytest_nested_table_arrayofobjectsfield"]
	assert.ElementsMatch(t, []string{"id", "index", "filename", "timestamp", "assessmentid", "year", "month", "day",
		"recordid"}, names(child.cols))
	assert.Equal(t, childCols(col("filename", TypeString), col("timestamp", TypeString)), child.cols)
	rows := slices.Clone(child.rows)
	sort.Slice(rows, func(i, j int) bool { return rows[i][8].(string) < rows[j][8].(string) })
	var noIndex [][]any
	for _, r := range rows {
		noIndex = append(noIndex, r[2:])
	}
	assert.Equal(t, [][]any{
		{"one", "one", "exampleassessment", "2022", "9", "1", "one"},
		{"three", "three", "exampleassessment", "2022", "9", "2", "three"},
		{"two", "two", "exampleassessment", "2022", "9", "1", "two"},
	}, noIndex)
	// Each child row joins its parent: id = the parent's arrayofobjectsfield, index 0.
	for i, r := range root.rows {
		assert.Equal(t, []any{r[0], int64(0)}, child.rows[i][:2])
		assert.Equal(t, key(r[7].(string), "0", "arrayofobjectsfield"), r[0])
	}
}

func TestNestedObjectFlattened(t *testing.T) {
	got, err := convert(t, "dataset_t", rec{`{"a":{"b":{"c":1,"d":"x"},"e":true},"f":2.5}`, inh("r1", 1)})
	require.NoError(t, err)
	tb := got["dataset_t"]
	assert.Equal(t, cols(col("a_b_c", TypeInt64), col("a_b_d", TypeString), col("a_e", TypeBool), col("f", TypeDouble)), tb.cols)
	assert.Equal(t, [][]any{{int64(1), "x", true, 2.5, "exampleassessment", "2022", "9", "1", "r1"}}, tb.rows)
}

func TestArrayOfScalars(t *testing.T) {
	got, err := convert(t, "dataset_t", rec{`{"tags":["a","b"],"n":[1,2.5]}`, inh("r1", 1)})
	require.NoError(t, err)
	kTags, kN := key("r1", "0", "tags"), key("r1", "0", "n")
	assert.Equal(t, table{cols: cols(col("n", TypeInt64), col("tags", TypeInt64)),
		rows: [][]any{{kN, kTags, "exampleassessment", "2022", "9", "1", "r1"}}}, got["dataset_t"])
	assert.Equal(t, table{cols: childCols(col("val", TypeString)), rows: [][]any{
		{kTags, int64(0), "a", "exampleassessment", "2022", "9", "1", "r1"},
		{kTags, int64(1), "b", "exampleassessment", "2022", "9", "1", "r1"},
	}}, got["dataset_t_tags"])
	assert.Equal(t, table{cols: childCols(col("val", TypeDouble)), rows: [][]any{
		{kN, int64(0), 1.0, "exampleassessment", "2022", "9", "1", "r1"},
		{kN, int64(1), 2.5, "exampleassessment", "2022", "9", "1", "r1"},
	}}, got["dataset_t_n"], "an int and a double in one array: double")
}

// Arrays in array elements (motion samples in task steps) and arrays of arrays give
// grandchild tables; an empty array sets the key and gives no rows.
func TestNestedArrays(t *testing.T) {
	got, err := convert(t, "dataset_t", rec{`{"steps":[{"name":"s1","samples":[{"x":1},{"x":2}]},{"name":"s2","samples":[]}],` +
		`"matrix":[[1,2],[3]]}`, inh("r1", 1)})
	require.NoError(t, err)
	tail := []any{"exampleassessment", "2022", "9", "1", "r1"}
	row := func(v ...any) []any { return append(v, tail...) }
	kSteps, kMatrix := key("r1", "0", "steps"), key("r1", "0", "matrix")
	k0, k1 := key("r1", "0/steps[0]", "samples"), key("r1", "0/steps[1]", "samples")
	m0, m1 := key("r1", "0/matrix[0]", "val"), key("r1", "0/matrix[1]", "val")
	assert.Equal(t, []string{"dataset_t", "dataset_t_matrix", "dataset_t_matrix_val", "dataset_t_steps", "dataset_t_steps_samples"},
		sortedKeys(got))
	assert.Equal(t, [][]any{row(kMatrix, kSteps)}, got["dataset_t"].rows)
	assert.Equal(t, table{cols: childCols(col("name", TypeString), col("samples", TypeInt64)), rows: [][]any{
		row(kSteps, int64(0), "s1", k0), row(kSteps, int64(1), "s2", k1),
	}}, got["dataset_t_steps"])
	assert.Equal(t, table{cols: childCols(col("x", TypeInt64)), rows: [][]any{
		row(k0, int64(0), int64(1)), row(k0, int64(1), int64(2)),
	}}, got["dataset_t_steps_samples"], "s2's empty samples: no rows")
	assert.Equal(t, table{cols: childCols(col("val", TypeInt64)), rows: [][]any{
		row(kMatrix, int64(0), m0), row(kMatrix, int64(1), m1),
	}}, got["dataset_t_matrix"])
	assert.Equal(t, table{cols: childCols(col("val", TypeInt64)), rows: [][]any{
		row(m0, int64(0), int64(1)), row(m0, int64(1), int64(2)), row(m1, int64(0), int64(3)),
	}}, got["dataset_t_matrix_val"])
	assert.NotEqual(t, k0, k1)
}

func TestEmptyArrays(t *testing.T) {
	s := NewSchema("dataset_t")
	doc, err := Decode([]byte(`{"a":[],"b":{"c":[]}}`))
	require.NoError(t, err)
	rows, err := Relationalize("dataset_t", doc, 0, inh("r1", 1))
	require.NoError(t, err)
	require.Len(t, rows, 1, "no child rows")
	s.Observe(rows, "r1")
	f, err := s.Final()
	require.NoError(t, err)
	vals, err := f.Encode(rows[0], inh("r1", 1))
	require.NoError(t, err)
	assert.Equal(t, []any{key("r1", "0", "a"), key("r1", "0", "b_c"), "exampleassessment", "2022", "9", "1", "r1"}, vals,
		"the join keys are set")
	var tables []string
	for _, tb := range f.Tables() {
		tables = append(tables, tb.Name)
		if tb.Name != "dataset_t" {
			assert.Equal(t, int64(0), tb.Rows)
			assert.Equal(t, childCols(), tb.Columns)
		}
	}
	assert.Equal(t, []string{"dataset_t", "dataset_t_a", "dataset_t_b_c"}, tables, "the child tables exist, empty")
}

// Nulls are null; a column null in every record is untyped (not written); a null array or
// object takes the type the other records give it.
func TestNulls(t *testing.T) {
	got, err := convert(t, "dataset_t",
		rec{`{"x":null,"y":1,"o":null,"arr":null,"z":null}`, inh("r1", 1)},
		rec{`{"x":"s","y":null,"o":{"p":true},"arr":[null,5],"z":null}`, inh("r2", 1)})
	require.NoError(t, err)
	tb := got["dataset_t"]
	assert.Equal(t, cols(col("arr", TypeInt64), col("o_p", TypeBool), col("x", TypeString), col("y", TypeInt64)), tb.cols)
	assert.Equal(t, []string{"z"}, tb.untyped)
	kArr := key("r2", "0", "arr")
	assert.Equal(t, [][]any{
		{nil, nil, nil, int64(1), "exampleassessment", "2022", "9", "1", "r1"},
		{kArr, true, "s", nil, "exampleassessment", "2022", "9", "1", "r2"},
	}, tb.rows)
	assert.Equal(t, [][]any{
		{kArr, int64(0), nil, "exampleassessment", "2022", "9", "1", "r2"},
		{kArr, int64(1), int64(5), "exampleassessment", "2022", "9", "1", "r2"},
	}, got["dataset_t_arr"].rows, "a null element keeps its position")
}

// Integers and other numbers across records make a double; 1.0, 1e3 and integers beyond
// int64 are doubles.
func TestMixedNumbersAcrossRecords(t *testing.T) {
	got, err := convert(t, "dataset_t",
		rec{`{"n":1,"f":1.0,"e":1e3,"big":12345678901234567890}`, inh("r1", 1)},
		rec{`{"n":2.5,"f":2,"e":3,"big":1}`, inh("r2", 1)})
	require.NoError(t, err)
	tb := got["dataset_t"]
	assert.Equal(t, cols(col("big", TypeDouble), col("e", TypeDouble), col("f", TypeDouble), col("n", TypeDouble)), tb.cols)
	assert.Equal(t, []any{1.2345678901234567e19, 1000.0, 1.0, 1.0}, tb.rows[0][:4])
	assert.Equal(t, []any{1.0, 3.0, 2.0, 2.5}, tb.rows[1][:4])
}

// Any other mix is a conflict naming the table, the column, both types and both records;
// nothing is coerced.
func TestTypeConflicts(t *testing.T) {
	cases := []struct {
		name string
		recs []rec
		want []string
	}{
		{"string vs number", []rec{{`{"a":"x"}`, inh("r1", 1)}, {`{"a":3}`, inh("r2", 1)}},
			[]string{`table dataset_t column "a": string in record r1, int64 in record r2`}},
		{"boolean vs string", []rec{{`{"a":true}`, inh("r1", 1)}, {`{"a":null}`, inh("r2", 1)}, {`{"a":"t"}`, inh("r3", 1)}},
			[]string{`table dataset_t column "a": boolean in record r1, string in record r3`}},
		{"object vs scalar", []rec{{`{"a":{"b":1}}`, inh("r1", 1)}, {`{"a":1}`, inh("r2", 1)}},
			[]string{`table dataset_t column "a": object in record r1, int64 in record r2`}},
		{"array vs scalar", []rec{{`{"a":[1]}`, inh("r1", 1)}, {`{"a":"x"}`, inh("r2", 1)}},
			[]string{`table dataset_t column "a": array in record r1, string in record r2`}},
		{"mixed array elements (the original's testEvent [\"three\", 3])",
			[]rec{{`{"userinteractions":[{"testEvent":["three",3]}]}`, inh("three", 2)}},
			[]string{`table dataset_t_userinteractions_testEvent column "val": string in record three, int64 in record three`}},
		{"two fields flatten to one column", []rec{{`{"a_b":1}`, inh("r1", 1)}, {`{"a":{"b":2}}`, inh("r2", 1)}},
			[]string{`table dataset_t column "a_b": fields a_b (record r1) and a.b (record r2) flatten to the same name`}},
		{"two arrays name one table", []rec{{`{"a_b":[1],"a":[{"b":[2]}]}`, inh("r1", 1)}},
			[]string{`table dataset_t_a_b is both an array of dataset_t (record r1) and an array of dataset_t_a (record r1)`,
				`table dataset_t_a_b column "val": fields a[].b[] (record r1) and a_b[] (record r1) flatten to the same name`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewSchema("dataset_t")
			for _, r := range c.recs {
				s.Observe(relationalize(t, "dataset_t", r), r.in.RecordID)
			}
			var got []string
			for _, cf := range s.Conflicts() {
				got = append(got, cf.String())
			}
			assert.Equal(t, c.want, got)
			_, err := s.Final()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want[0])
		})
	}
}

// An element's field named like a column the child adds keeps a longer name.
func TestElementFieldsNamedLikeAddedColumns(t *testing.T) {
	got, err := convert(t, "dataset_t", rec{`{"f":[{"id":"e1","index":7,"recordid":"x","v":1}]}`, inh("r1", 1)})
	require.NoError(t, err)
	k := key("r1", "0", "f")
	assert.Equal(t, table{cols: childCols(col("f_val_id", TypeString), col("f_val_index", TypeInt64),
		col("f_val_recordid", TypeString), col("v", TypeInt64)),
		rows: [][]any{{k, int64(0), "e1", int64(7), "x", int64(1), "exampleassessment", "2022", "9", "1", "r1"}}},
		got["dataset_t_f"])
}

// The record's injected fields must match its key and partition (month 09 is 9).
func TestInheritedFieldsChecked(t *testing.T) {
	ok := `{"recordid":"r1","assessmentid":"exampleassessment","year":2022,"month":"09","day":1}`
	doc, err := Decode([]byte(ok))
	require.NoError(t, err)
	_, err = Relationalize("dataset_t", doc, 0, inh("r1", 1))
	require.NoError(t, err)

	doc, _ = Decode([]byte(`{"recordid":"r2"}`))
	_, err = Relationalize("dataset_t", doc, 0, inh("r1", 1))
	assert.EqualError(t, err, `the record's field recordid "r2" differs from its recordid "r1"`)
	doc, _ = Decode([]byte(`{"day":{"x":1}}`))
	_, err = Relationalize("dataset_t", doc, 0, inh("r1", 1))
	assert.EqualError(t, err, `the record's field day {"x":1} differs from its day "1"`)
}

func TestBadRecords(t *testing.T) {
	doc, _ := Decode([]byte(`[1,2]`))
	_, err := Relationalize("dataset_t", doc, 0, inh("r1", 1))
	assert.EqualError(t, err, "the record is a JSON array, not an object")
	doc, _ = Decode([]byte(`{"":1}`))
	_, err = Relationalize("dataset_t", doc, 0, inh("r1", 1))
	assert.EqualError(t, err, `field "" has an empty name`)
	doc, _ = Decode([]byte(`{"a":1e999}`))
	_, err = Relationalize("dataset_t", doc, 0, inh("r1", 1))
	assert.EqualError(t, err, "field a: number 1e999 does not fit a double")
	_, err = Decode([]byte(`{"a":1} {"b":2}`))
	assert.EqualError(t, err, "data after the JSON value at byte 7")
	_, err = Decode([]byte(`{"a":1}]`))
	assert.EqualError(t, err, "data after the JSON value at byte 7", "a stray ] after the record (json.Decoder.More misses it)")
	_, err = Decode([]byte(`{"a":`))
	assert.Error(t, err)
}

// Join keys are the same each time a record is converted and differ between lines, rows and
// records.
func TestJoinKeysDeterministic(t *testing.T) {
	doc, _ := Decode([]byte(`{"a":[{"b":[1]}]}`))
	r1, err := Relationalize("dataset_t", doc, 0, inh("r1", 1))
	require.NoError(t, err)
	r1again, _ := Relationalize("dataset_t", doc, 0, inh("r1", 1))
	line1, _ := Relationalize("dataset_t", doc, 1, inh("r1", 1))
	other, _ := Relationalize("dataset_t", doc, 0, inh("r2", 1))
	assert.Equal(t, r1, r1again)
	assert.NotEqual(t, r1[0].Cells[0].Value, line1[0].Cells[0].Value)
	assert.NotEqual(t, r1[0].Cells[0].Value, other[0].Cells[0].Value)
	assert.Equal(t, []string{"dataset_t", "dataset_t_a", "dataset_t_a_b"}, []string{r1[0].Table, r1[1].Table, r1[2].Table})
	assert.Equal(t, r1[0].Cells[0].Value, r1[1].ID)
	assert.Equal(t, r1[1].Cells[0].Value, r1[2].ID)
}

// Encoding a row the schema never saw is an error (the data changed between the passes).
func TestEncodeUnknownRow(t *testing.T) {
	s := NewSchema("dataset_t")
	s.Observe(relationalize(t, "dataset_t", rec{`{"a":1}`, inh("r1", 1)}), "r1")
	f, err := s.Final()
	require.NoError(t, err)
	_, err = f.Encode(relationalize(t, "dataset_t", rec{`{"b":1}`, inh("r1", 1)})[0], inh("r1", 1))
	assert.EqualError(t, err, `table dataset_t column "b" was not in the records the schema was inferred from`)
	_, err = f.Encode(relationalize(t, "dataset_t", rec{`{"a":"x"}`, inh("r1", 1)})[0], inh("r1", 1))
	assert.EqualError(t, err, `table dataset_t column "a": a string value where the schema has int64`)
	_, err = f.Encode(Row{Table: "dataset_t_zz"}, inh("r1", 1))
	assert.EqualError(t, err, "table dataset_t_zz was not in the records the schema was inferred from")
}

func sortedKeys(m map[string]table) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
