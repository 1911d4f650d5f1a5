package relational_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/bridge/relational"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
)

const fuzzRoot = "dataset_fuzz_v1"

// fuzzPartition is the partition of every fuzzed record.
var fuzzPartition = bridge.Partition{AssessmentID: "spelling", Year: 2022, Month: 9, Day: 1}

// fuzzReused is one Relationalizer for every input of a fuzzing process, as a conversion
// reuses one for all its lines: its caches must not leak from one record into the next.
var fuzzReused = relational.NewRelationalizer(fuzzRoot)

// FuzzRelationalize relationalizes the NDJSON lines of a record and checks: the
// fast path (Relationalizer.Line, fresh and reused, and KindsOnly) gives the rows of Decode
// and Relationalize and fails where they fail; rows are deterministic; the root row comes
// first, every child row's id is the join key of an array cell of a row of its parent table
// named after that column, indexes count 0..n-1 per array, one child row per array element
// of the line, join keys unique in a line; and the schema over all lines is the same
// when inferred twice, and once final has unique column names (a record with two fields
// flattening to one column never finalizes), id and index first in child tables, the
// inherited columns last, parents that exist, and encodes every row to its columns.
func FuzzRelationalize(f *testing.F) {
	for _, l := range []string{
		`{"a":1,"b":1.5,"c":"x\u00e9\n\"","d":true,"e":false,"f":null,"g":-0,"h":1e3,"i":12345678901234567890}`,
		`{"o":{"x":1,"y":{"z":[1,2,{"w":3}]}},"arr":[[1,2],[],[[3]]],"e":[],"n":[null,1]}`,
		`{"f":[{"id":"e1","index":7,"recordid":"x","v":1,"day":{"q":2}},{"v":null},{}]}`,
		`{"b":1,"a":2,"b":"last","a":{"c":1}}`,
		`{"a":[{"b":[1]}],"a_b":2}`,
		`{"a_b":1,"a":{"b":2}}`,
		`{"f":[1]}` + "\n" + `{"f":[{"val":2}]}`,
		`{"x":1}` + "\n" + `{"x":"s"}` + "\n" + `{"x":2.5}`,
		`{"s":"bad \ud800 surrogate","t":"\ud83d\ude00"}`,
		"{\"s\":\"invalid \xff utf8\"}",
		`{"recordid":"rec0","assessmentid":"spelling","year":2022,"month":"09","day":1}`,
		`[1,2]`, `{"":1}`, `{"a":1e999}`, `{"a":1} {"b":2}`, `{"a":`, `{"day":{"x":1}}`, `{"f":[{"":1}]}`,
	} {
		f.Add([]byte(l))
	}
	f.Add(bridgeLines(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Split(data, []byte("\n"))
		if len(lines) > 8 {
			lines = lines[:8]
		}
		in := relational.InheritedOf(fuzzPartition, "rec0")
		var all [][]relational.Row
		for i, line := range lines {
			if rows, ok := checkLine(t, line, i, in); ok {
				all = append(all, rows)
			}
		}
		checkSchema(t, all, in)
	})
}

// bridgeLines is the NDJSON stage 1 writes for the files of a realistic Bridge archive.
func bridgeLines(f require.TestingT) []byte {
	a := bridgedata.Good(bridgedata.Spec{RecordID: "rec0", Steps: 2, MotionSamples: 2})
	meta, err := bridge.ParseArchiveMeta(a.Metadata)
	require.NoError(f, err)
	meta.Partition = fuzzPartition
	var buf bytes.Buffer
	for _, name := range a.Names {
		if !strings.HasSuffix(name, ".json") || name == "metadata.json" {
			continue
		}
		doc, err := bridge.DecodeJSON(a.Files[name])
		require.NoError(f, err, name)
		docs, err := bridge.Inject(name, "fuzz_v1", doc, meta)
		require.NoError(f, err, name)
		require.NoError(f, bridge.AppendNDJSON(&buf, docs[:1]))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// checkLine checks the rows of a record's line; ok when they were produced.
func checkLine(t *testing.T, line []byte, lineNo int, in relational.Inherited) ([]relational.Row, bool) {
	doc, werr := relational.Decode(line)
	var want []relational.Row
	if werr == nil {
		want, werr = relational.Relationalize(fuzzRoot, doc, lineNo, in)
	}
	fresh := relational.NewRelationalizer(fuzzRoot)
	kinds := relational.NewRelationalizer(fuzzRoot)
	kinds.KindsOnly = true
	got, gerr := fresh.Line(line, lineNo, in)
	reused, rerr := fuzzReused.Line(line, lineNo, in)
	kindRows, kerr := kinds.Line(line, lineNo, in)
	if werr != nil {
		require.Error(t, gerr, "Line accepted what Relationalize refuses: %v", werr)
		require.Error(t, rerr, "the reused Line accepted what Relationalize refuses: %v", werr)
		require.Error(t, kerr, "KindsOnly accepted what Relationalize refuses: %v", werr)
		if doc != nil {
			require.Equal(t, werr.Error(), gerr.Error())
		}
		return nil, false
	}
	require.NoError(t, gerr)
	require.NoError(t, rerr)
	require.NoError(t, kerr)
	norm := fuzzNormalize(want)
	require.Equal(t, norm, fuzzNormalize(got), "Line differs from Relationalize")
	require.Equal(t, norm, fuzzNormalize(reused), "the reused Line differs from Relationalize")
	require.Equal(t, fuzzKinds(want), fuzzKinds(kindRows), "KindsOnly gives other kinds")
	again, err := relational.Relationalize(fuzzRoot, doc, lineNo, in)
	require.NoError(t, err)
	require.Equal(t, norm, fuzzNormalize(again), "Relationalize is not deterministic")
	checkRows(t, want, countElements(doc))
	return want, true
}

// checkRows checks how a line's rows link up; elements is the number of array elements in
// the line (at any depth), each of which gives exactly one child row.
func checkRows(t *testing.T, rows []relational.Row, elements int) {
	require.NotEmpty(t, rows)
	require.Equal(t, fuzzRoot, rows[0].Table)
	require.False(t, rows[0].Child)
	type array struct{ table string }
	arrays := map[int64]array{} // join key → child table
	next := map[int64]int64{}   // join key → next index
	children := 0
	for i, row := range rows {
		if row.Child {
			children++
			a, ok := arrays[row.ID]
			require.True(t, ok, "row %d of %s: id %d is no array cell of an earlier row", i, row.Table, row.ID)
			require.Equal(t, a.table, row.Table, "row %d: id %d belongs to another table's array", i, row.ID)
			require.Equal(t, next[row.ID], row.Index, "row %d of %s: index", i, row.Table)
			next[row.ID]++
		} else {
			require.Zero(t, i, "only the first row is a root row")
		}
		for _, c := range row.Cells {
			if c.Kind != relational.Array {
				continue
			}
			key := c.Int()
			_, dup := arrays[key]
			require.False(t, dup, "join key %d of %s.%s is used twice in the line", key, row.Table, c.Column)
			arrays[key] = array{table: bridge.ChildTableName(row.Table, c.Column)}
		}
	}
	for i, row := range rows[1:] {
		require.True(t, row.Child, "row %d", i+1)
		require.True(t, slices.ContainsFunc(rows, func(p relational.Row) bool { return p.Table == row.Parent }),
			"row %d of %s: its parent table %s has no row", i+1, row.Table, row.Parent)
	}
	require.Equal(t, elements, children, "one child row per array element")
}

// checkSchema infers the schema of the lines' rows twice and checks the final one.
func checkSchema(t *testing.T, all [][]relational.Row, in relational.Inherited) {
	infer := func() (*relational.Final, error) {
		s := relational.NewSchema(fuzzRoot)
		for _, rows := range all {
			s.Observe(rows, in.RecordID)
		}
		return s.Final()
	}
	final, err := infer()
	final2, err2 := infer()
	require.Equal(t, err == nil, err2 == nil)
	dupColumn := false
	for _, rows := range all {
		for _, row := range rows {
			seen := map[string]bool{}
			for _, c := range row.Cells {
				dupColumn = dupColumn || seen[c.Column]
				seen[c.Column] = true
			}
		}
	}
	if err != nil {
		require.Equal(t, err.Error(), err2.Error())
		return
	}
	require.False(t, dupColumn, "a row with two cells of one column finalized")
	tables := final.Tables()
	require.Equal(t, tables, final2.Tables(), "the schema is not deterministic")
	byName := map[string]relational.Table{}
	for _, tb := range tables {
		byName[tb.Name] = tb
	}
	for _, tb := range tables {
		names := map[string]bool{}
		for _, c := range tb.Columns {
			require.False(t, names[c.Name], "table %s has column %q twice", tb.Name, c.Name)
			names[c.Name] = true
		}
		for _, u := range tb.Untyped {
			require.False(t, names[u], "table %s: %q is both written and untyped", tb.Name, u)
		}
		n := len(tb.Columns)
		require.GreaterOrEqual(t, n, len(relational.InheritedColumns))
		for i, c := range relational.InheritedColumns {
			require.Equal(t, relational.Column{Name: c, Type: relational.TypeString}, tb.Columns[n-len(relational.InheritedColumns)+i], tb.Name)
		}
		if tb.Parent == "" {
			require.Equal(t, fuzzRoot, tb.Name)
			continue
		}
		_, ok := byName[tb.Parent]
		require.True(t, ok, "table %s: parent %s is no table", tb.Name, tb.Parent)
		require.Equal(t, []relational.Column{{Name: relational.ColID, Type: relational.TypeInt64}, {Name: relational.ColIndex, Type: relational.TypeInt64}},
			tb.Columns[:2], tb.Name)
	}
	for _, rows := range all {
		for _, row := range rows {
			vals, err := final.Encode(row, in)
			require.NoError(t, err, "row of %s", row.Table)
			tb := byName[row.Table]
			require.Len(t, vals, len(tb.Columns), row.Table)
			inherited := []any{in.AssessmentID, in.Year, in.Month, in.Day, in.RecordID}
			require.Equal(t, inherited, vals[len(vals)-len(inherited):], row.Table)
			if row.Child {
				require.Equal(t, []any{row.ID, row.Index}, vals[:2], row.Table)
			}
		}
	}
}

// countElements counts the array elements anywhere in a decoded document.
func countElements(v any) int {
	switch x := v.(type) {
	case []any:
		n := len(x)
		for _, e := range x {
			n += countElements(e)
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n += countElements(e)
		}
		return n
	}
	return 0
}

// fuzzKinds is what Schema.Observe reads of rows.
func fuzzKinds(rows []relational.Row) [][]string {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		row := []string{r.Table, r.Parent}
		for _, c := range r.Cells {
			row = append(row, c.Column, c.Kind.String(), c.Source)
		}
		out = append(out, row)
	}
	return out
}

// fuzzNormalize copies rows with their cells' values boxed (Cell.Val), comparable whichever
// path made them.
func fuzzNormalize(rows []relational.Row) []relational.Row {
	out := make([]relational.Row, len(rows))
	for i, r := range rows {
		cells := make([]relational.Cell, len(r.Cells))
		for j, c := range r.Cells {
			cells[j] = relational.Cell{Column: c.Column, Kind: c.Kind, Value: c.Val(), Source: c.Source}
		}
		r.Cells = cells
		out[i] = r
	}
	return out
}
