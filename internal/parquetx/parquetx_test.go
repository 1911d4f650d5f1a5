package parquetx

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
)

var testCols = []Column{
	{Name: "id", Type: Int64},
	{Name: "index", Type: Int64},
	{Name: "b_name", Type: String},
	{Name: "a_score", Type: Double},
	{Name: "ok", Type: Bool},
}

var testRows = [][]any{
	{int64(-9007199254740993), int64(0), "one", 0.5, true},
	{int64(2), int64(1), nil, nil, nil},
	{int64(3), int64(2), "", -1.25e300, false},
}

func write(t *testing.T, cols []Column, rows [][]any, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, cols, opt)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, w.Write(r))
	}
	require.Equal(t, int64(len(rows)), w.Rows())
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// Every type and nulls round-trip, columns keep the caller's order (not sorted), the codec is
// the one asked for and the metadata is stored.
func TestWriteReadRoundTrip(t *testing.T) {
	for _, codec := range []string{"", "zstd", "snappy"} {
		t.Run("codec="+codec, func(t *testing.T) {
			b := write(t, testCols, testRows, Options{Compression: codec, Metadata: map[string]string{"table": "t"}})
			f, err := Open(bytes.NewReader(b), int64(len(b)))
			require.NoError(t, err)
			assert.Equal(t, testCols, f.Columns())
			assert.Equal(t, int64(3), f.NumRows())
			want := map[string]string{"": "ZSTD", "zstd": "ZSTD", "snappy": "SNAPPY"}[codec]
			assert.Equal(t, want, f.Compression())
			v, ok := f.Lookup("table")
			assert.True(t, ok)
			assert.Equal(t, "t", v)
			rows, err := f.Rows()
			require.NoError(t, err)
			assert.Equal(t, testRows, rows)
			var names []any
			require.NoError(t, f.EachValue("b_name", func(v any) error { names = append(names, v); return nil }))
			assert.Equal(t, []any{"one", nil, ""}, names)
			assert.ErrorContains(t, f.EachValue("nope", func(any) error { return nil }), `no column "nope"`)
		})
	}
}

func TestWriterRefusesBadInput(t *testing.T) {
	_, err := NewWriter(io.Discard, nil, Options{})
	assert.ErrorContains(t, err, "at least one column")
	_, err = NewWriter(io.Discard, []Column{{Name: "a", Type: "date"}}, Options{})
	assert.ErrorContains(t, err, `column "a": type "date"`)
	_, err = NewWriter(io.Discard, []Column{{Name: "a", Type: Int64}, {Name: "a", Type: String}}, Options{})
	assert.ErrorContains(t, err, `column "a" twice`)
	_, err = NewWriter(io.Discard, testCols, Options{Compression: "lzo"})
	assert.ErrorContains(t, err, `compression "lzo"`)
	w, err := NewWriter(io.Discard, testCols, Options{})
	require.NoError(t, err)
	assert.ErrorContains(t, w.Write([]any{"x", int64(1), "a", 1.0, true}), `column "id": value x (string) is not a int64`)
	assert.ErrorContains(t, w.Write([]any{int64(1)}), "row of 1 values for 5 columns")
}

// Row groups are cut by rows and by buffered bytes.
func TestRowGroups(t *testing.T) {
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{int64(i), int64(i), fmt.Sprintf("name-%d-%0100d", i, i), float64(i), i%2 == 0}
	}
	b := write(t, testCols, rows, Options{RowGroupRows: 300})
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	assert.Equal(t, 4, f.RowGroups())
	got, err := f.Rows()
	require.NoError(t, err)
	assert.Equal(t, rows, got)

	b = write(t, testCols, rows, Options{RowGroupBytes: 16 << 10})
	f, err = Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	assert.Greater(t, f.RowGroups(), 2, "about 130 KiB of strings in 16 KiB row groups")
	assert.Equal(t, int64(1000), f.NumRows())
}

// Rolling starts a new part past the size cap; every part is a complete file and the parts
// hold every row once, in order.
func TestRollingParts(t *testing.T) {
	var parts []*bytes.Buffer
	var doneRows []int64
	r := NewRolling(testCols, Options{RowGroupBytes: 8 << 10}, 32<<10,
		func(n int) (io.Writer, error) {
			require.Equal(t, len(parts), n)
			parts = append(parts, &bytes.Buffer{})
			return parts[n], nil
		},
		func(n int, rows int64) error {
			require.Equal(t, len(doneRows), n)
			doneRows = append(doneRows, rows)
			return nil
		})
	var want [][]any
	for i := 0; i < 2000; i++ {
		row := []any{int64(i), int64(0), fmt.Sprintf("%x", sha256.Sum256([]byte{byte(i), byte(i >> 8)})), nil, true}
		want = append(want, row)
		require.NoError(t, r.Write(row))
	}
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "a second Close is a no-op")
	assert.Greater(t, r.Parts(), 2)
	assert.Equal(t, r.Parts(), len(parts))
	assert.Equal(t, int64(2000), r.Rows())
	var got [][]any
	var sum int64
	for i, p := range parts {
		f, err := Open(bytes.NewReader(p.Bytes()), int64(p.Len()))
		require.NoError(t, err, "part %d", i)
		rows, err := f.Rows()
		require.NoError(t, err)
		assert.Equal(t, doneRows[i], int64(len(rows)))
		sum += doneRows[i]
		got = append(got, rows...)
	}
	assert.Equal(t, int64(2000), sum)
	assert.Equal(t, want, got)

	empty := NewRolling(testCols, Options{}, 0, func(int) (io.Writer, error) { t.Fatal("no part without rows"); return nil, nil }, nil)
	require.NoError(t, empty.Close())
	assert.Equal(t, 0, empty.Parts())
}

// DuckDB, an independent reader, sees the columns in order with their types, nulls and values.
func TestDuckDBReadsWhatWeWrite(t *testing.T) {
	dir := t.TempDir()
	b := write(t, testCols, testRows, Options{})
	path := filepath.Join(dir, "t", "part-00000.parquet")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
	r := duckdb.Read(t, dir, `SELECT * FROM t ORDER BY "index"`)
	tab := r.Tables["t"]
	assert.Equal(t, []string{"id", "index", "b_name", "a_score", "ok"}, tab.ColumnNames())
	assert.Equal(t, map[string]string{"id": "BIGINT", "index": "BIGINT", "b_name": "VARCHAR", "a_score": "DOUBLE", "ok": "BOOLEAN"}, tab.Types())
	assert.Equal(t, [][]any{
		{int64(-9007199254740993), int64(0), "one", 0.5, true},
		{int64(2), int64(1), nil, nil, nil},
		{int64(3), int64(2), "", -1.25e300, false},
	}, r.Queries[0].Rows)
}
