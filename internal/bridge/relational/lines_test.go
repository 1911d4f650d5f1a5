package relational

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fast path (Relationalizer.Line) gives exactly the rows of Decode and Relationalize,
// and fails where they fail; one Relationalizer is reused across all lines, as a conversion
// does.
func TestLineSameAsDecodeAndRelationalize(t *testing.T) {
	lines := []string{
		`{"recordid":"r1"}`,
		`{"recordid":"r1","assessmentid":"exampleassessment","year":2022,"month":"09","day":1,"a":1}`,
		`{"a":1,"b":1.5,"c":"x\u00e9\n\"","d":true,"e":false,"f":null,"g":-0,"h":1e3,"i":12345678901234567890}`,
		`{"a":9223372036854775807,"b":-9223372036854775808,"c":1.0,"d":1E-2,"e":0.1,"f":-0.000,"g":123456789012345678901234567890.5}`,
		`{"o":{"x":1,"y":{"z":[1,2,{"w":3}]}},"arr":[[1,2],[],[[3]]],"e":[],"n":[null,1]}`,
		`{"f":[{"id":"e1","index":7,"recordid":"x","v":1,"day":{"q":2}},{"v":null},{}]}`,
		`{"b":1,"a":2,"b":"last","a":{"c":1}}`,
		`{"z":{"":1}}`,
		`{"arrayofobjectsfield":[{"filename":"one","timestamp":"one"}],"objectfield":{"filename":"one","timestamp":"one"}}`,
		`{"a":[{"b":[1]}],"a_b":2}`,
		`{"s":"bad \ud800 surrogate","t":"\ud83d\ude00"}`,
		"{\"s\":\"invalid \xff utf8\"}",
		`{"s":"<html>&\u2028"}`,
		`  {"spaces":1}  `,
		// Failures.
		`[1,2]`, `"x"`, `1`, `null`, `{"":1}`, `{"a":1e999}`, `{"a":1} {"b":2}`, `{"a":`, `{"a":01}`,
		`{"a":NaN}`, "{\"a\":\"ctl\x01\"}", `{"recordid":"r2"}`, `{"day":{"x":1}}`, `{"year":"2021"}`,
		`{"f":[{"":1}]}`, `{"a":[1,]}`, `{'a':1}`,
	}
	r := NewRelationalizer("dataset_t")
	kinds := NewRelationalizer("dataset_t")
	kinds.KindsOnly = true
	for round := 0; round < 2; round++ {
		for i, l := range lines {
			in := inh("r1", 1)
			var want []Row
			doc, werr := Decode([]byte(l))
			if werr == nil {
				want, werr = Relationalize("dataset_t", doc, i, in)
			}
			got, gerr := r.Line([]byte(l), i, in)
			if werr != nil {
				require.Error(t, gerr, l)
				if doc != nil {
					assert.Equal(t, werr.Error(), gerr.Error(), l)
				}
				_, kerr := kinds.Line([]byte(l), i, in)
				require.Error(t, kerr, l)
				continue
			}
			require.NoError(t, gerr, l)
			assert.Equal(t, normalize(want), normalize(got), l)
			k, kerr := kinds.Line([]byte(l), i, in)
			require.NoError(t, kerr, l)
			assert.Equal(t, kindsOf(want), kindsOf(k), l)
		}
	}
}

// kindsOf is what Schema.Observe reads of rows.
func kindsOf(rows []Row) [][]string {
	var out [][]string
	for _, r := range rows {
		row := []string{r.Table, r.Parent}
		for _, c := range r.Cells {
			row = append(row, c.Column, c.Kind.String(), c.Source)
		}
		out = append(out, row)
	}
	return out
}

func normalize(rows []Row) []Row {
	out := make([]Row, len(rows))
	for i, r := range rows {
		cells := make([]Cell, len(r.Cells))
		for j, c := range r.Cells {
			cells[j] = Cell{Column: c.Column, Kind: c.Kind, Value: c.Val(), Source: c.Source}
		}
		r.Cells = cells
		out[i] = r
	}
	return out
}

// Place's cells, read with Int, Float, Str and IsTrue, are Encode's values (an int64 in a
// double column converted), for the Relationalizer's unboxed cells too.
func TestPlaceSameAsEncode(t *testing.T) {
	lines := []string{`{"a":1,"b":true,"c":"s","d":[1,2],"o":{"x":false}}`, `{"a":2.5,"d":[3],"c":null}`, `{"a":-7,"e":[{"f":1},{"f":0.5}]}`}
	s := NewSchema("dataset_t")
	in := inh("r1", 1)
	for _, l := range lines {
		s.Observe(relationalize(t, "dataset_t", rec{l, in}), "r1")
	}
	f, err := s.Final()
	require.NoError(t, err)
	r := NewRelationalizer("dataset_t")
	for _, l := range lines {
		rows, err := r.Line([]byte(l), 0, in)
		require.NoError(t, err)
		for _, row := range rows {
			want, err := f.Encode(row, in)
			require.NoError(t, err)
			cells, err := f.Place(nil, row)
			require.NoError(t, err)
			got := make([]any, len(cells)-len(InheritedColumns))
			for i, c := range cells[:len(got)] {
				switch c.Kind {
				case Int64, Array:
					got[i] = c.Int()
				case Double:
					got[i] = c.Float()
				case String:
					got[i] = c.Str()
				case Bool:
					got[i] = c.IsTrue()
				}
			}
			assert.Equal(t, want[:len(got)], got, l)
		}
	}
}
