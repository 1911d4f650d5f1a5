package parquetx

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WriteValues' cells may share memory the caller reuses for the next row (the rows are
// buffered in batches: their strings are copied), a string longer than the batch's room is
// written on its own, and the typed cells give the rows Write gives.
func TestWriteValuesCopiesReusedMemory(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testCols, Options{RowGroupRows: 700})
	require.NoError(t, err)
	scratch := make([]byte, 0, 64)
	var want [][]any
	long := strings.Repeat("x", batchBytes+1)
	for i := range 2000 {
		scratch = fmt.Appendf(scratch[:0], "name-%d", i)
		name := unsafe.String(unsafe.SliceData(scratch), len(scratch))
		vals := []Value{Int64Value(int64(i)), NullValue(), StringValue(name), DoubleValue(float64(i) / 4), BoolValue(i%2 == 0)}
		want = append(want, []any{int64(i), nil, strings.Clone(name), float64(i) / 4, i%2 == 0})
		if i == 1000 {
			vals[2] = StringValue(long)
			want[i][2] = long
		}
		require.NoError(t, w.WriteValues(vals))
	}
	assert.Error(t, w.WriteValues([]Value{StringValue("not an int"), NullValue(), NullValue(), NullValue(), NullValue()}))
	require.NoError(t, w.Close())
	f, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	assert.Equal(t, 3, f.RowGroups())
	rows, err := f.Rows()
	require.NoError(t, err)
	assert.Equal(t, want, rows)
}
