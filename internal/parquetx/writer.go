// Package parquetx writes and reads Parquet files whose columns are only known at run time
// (a schema inferred from data, not a Go struct), on top of parquet-go. It knows no
// procedure: a table is a list of flat, optional columns of four types, written row by row
// to any io.Writer with row groups cut by size and files cut by size (Rolling).
package parquetx

import (
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Type is a column's value type, as readers see it.
type Type string

// The column types: every column is optional (a value may be null).
const (
	Int64  Type = "int64"   // INT64 (INT(64,signed))
	Double Type = "double"  // DOUBLE
	String Type = "string"  // BYTE_ARRAY (STRING)
	Bool   Type = "boolean" // BOOLEAN
)

// Column is one column of a table: a name and a type; values may be null.
type Column struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// Options tune a writer; the zero value is usable (zstd, 64 MiB row groups).
type Options struct {
	// Compression is "zstd" (the default, zstd's default level), "zstd-fastest" (zstd's
	// fastest level: about half the CPU of the default level, files somewhat larger) or
	// "snappy".
	Compression string
	// RowGroupBytes cuts a row group once the buffered (encoded) data reaches it, so a
	// reader's unit of work and the writer's memory stay bounded. Default 64 MiB.
	RowGroupBytes int64
	// RowGroupRows also cuts a row group after that many rows (0: no limit).
	RowGroupRows int64
	// Metadata is stored in the file's key/value metadata (e.g. the table's name).
	Metadata map[string]string
}

// DefaultRowGroupBytes is the row group size when Options.RowGroupBytes is 0.
const DefaultRowGroupBytes = 64 << 20

// sizeCheckEvery is how many rows pass between two looks at the buffered size (the look
// sums every column's buffers).
const sizeCheckEvery = 64

// Writer writes one Parquet file of a dynamic schema to an io.Writer.
type Writer struct {
	cols      []Column
	w         *parquet.Writer
	opt       Options
	row       parquet.Row
	b         batch
	kinds     []parquet.Kind
	rows      int64
	groupRows int64
	flushedAt int64
	closed    bool
}

// NewWriter starts a Parquet file of columns cols (in that order) on out.
func NewWriter(out io.Writer, cols []Column, opt Options) (*Writer, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("parquet: a file needs at least one column")
	}
	codec, err := codecOf(opt.Compression)
	if err != nil {
		return nil, err
	}
	if opt.RowGroupBytes <= 0 {
		opt.RowGroupBytes = DefaultRowGroupBytes
	}
	g := parquet.Group{}
	order := make([]string, len(cols))
	kinds := make([]parquet.Kind, len(cols))
	for i, c := range cols {
		if c.Name == "" {
			return nil, fmt.Errorf("parquet: column %d has no name", i)
		}
		if _, dup := g[c.Name]; dup {
			return nil, fmt.Errorf("parquet: column %q twice", c.Name)
		}
		n, err := nodeOf(c.Type)
		if err != nil {
			return nil, fmt.Errorf("parquet: column %q: %w", c.Name, err)
		}
		g[c.Name] = parquet.Optional(n)
		kinds[i] = n.Type().Kind()
		order[i] = c.Name
	}
	schema := parquet.NewSchema("schema", orderedGroup{Group: g, order: order})
	options := []parquet.WriterOption{schema, parquet.Compression(codec)}
	for _, k := range sortedKeys(opt.Metadata) {
		options = append(options, parquet.KeyValueMetadata(k, opt.Metadata[k]))
	}
	return &Writer{
		cols:  append([]Column(nil), cols...),
		w:     parquet.NewWriter(out, options...),
		opt:   opt,
		row:   make(parquet.Row, len(cols)),
		b:     newBatch(len(cols)),
		kinds: kinds,
	}, nil
}

// Value is one cell for WriteValues: parquet-go's value, unboxed. Make it with Int64Value,
// DoubleValue, StringValue, BoolValue or NullValue.
type Value = parquet.Value

// Int64Value is an Int64 column's cell.
func Int64Value(v int64) Value { return parquet.Int64Value(v) }

// DoubleValue is a Double column's cell.
func DoubleValue(v float64) Value { return parquet.DoubleValue(v) }

// StringValue is a String column's cell; it shares s's bytes (the writer copies them).
func StringValue(s string) Value {
	return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// BoolValue is a Bool column's cell.
func BoolValue(v bool) Value { return parquet.BooleanValue(v) }

// NullValue is a null cell of any column.
func NullValue() Value { return parquet.NullValue() }

// WriteValues appends one row of typed cells (no boxing, for rows by the million): vals[i]
// is column i's cell, of the column's type or null.
func (w *Writer) WriteValues(vals []Value) error {
	if w.closed {
		return fmt.Errorf("parquet: write after close")
	}
	if len(vals) != len(w.cols) {
		return fmt.Errorf("parquet: row of %d values for %d columns", len(vals), len(w.cols))
	}
	return w.appendRow(vals)
}

// Write appends one row: values[i] is column i's value, nil for null, else int64 (or any Go
// integer) for Int64, float64 for Double, string for String, bool for Bool.
func (w *Writer) Write(values []any) error {
	if w.closed {
		return fmt.Errorf("parquet: write after close")
	}
	if len(values) != len(w.cols) {
		return fmt.Errorf("parquet: row of %d values for %d columns", len(values), len(w.cols))
	}
	for i, v := range values {
		pv, err := valueOf(w.cols[i].Type, v)
		if err != nil {
			return fmt.Errorf("parquet: column %q: %w", w.cols[i].Name, err)
		}
		w.row[i] = pv
	}
	return w.appendRow(w.row)
}

func (w *Writer) flush() error {
	if err := w.writeBatch(); err != nil {
		return err
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("parquet: flush row group: %w", err)
	}
	w.groupRows = 0
	w.flushedAt = w.w.Size()
	return nil
}

// Rows is the number of rows written so far.
func (w *Writer) Rows() int64 { return w.rows }

// Size estimates the file's size so far: bytes written plus the buffered row group and
// rows (an upper bound, not yet compressed), without the footer.
func (w *Writer) Size() int64 { return w.w.Size() + w.b.size() }

// Close writes the last row group and the footer. It does not close the io.Writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.writeBatch()
	w.b.release()
	if err != nil {
		return err
	}
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("parquet: close: %w", err)
	}
	return nil
}

// The codecs are shared by all writers: a zstd codec pools its encoders, each with a
// history buffer of several MiB that a codec per file allocated again and again.
var (
	zstdDefault = &zstd.Codec{}
	zstdFastest = &zstd.Codec{Level: zstd.SpeedFastest}
	snappyCodec = &snappy.Codec{}
)

func codecOf(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return zstdDefault, nil
	case "zstd-fastest":
		return zstdFastest, nil
	case "snappy":
		return snappyCodec, nil
	}
	return nil, fmt.Errorf("parquet: compression %q is not zstd, zstd-fastest or snappy", name)
}

func nodeOf(t Type) (parquet.Node, error) {
	switch t {
	case Int64:
		return parquet.Int(64), nil
	case Double:
		return parquet.Leaf(parquet.DoubleType), nil
	case String:
		return parquet.String(), nil
	case Bool:
		return parquet.Leaf(parquet.BooleanType), nil
	}
	return nil, fmt.Errorf("type %q is not int64, double, string or boolean", t)
}

func valueOf(t Type, v any) (parquet.Value, error) {
	if v == nil {
		return parquet.NullValue(), nil
	}
	switch t {
	case Int64:
		switch x := v.(type) {
		case int64:
			return parquet.Int64Value(x), nil
		case int:
			return parquet.Int64Value(int64(x)), nil
		case int32:
			return parquet.Int64Value(int64(x)), nil
		case uint64:
			if x > math.MaxInt64 {
				return parquet.Value{}, fmt.Errorf("%d overflows int64", x)
			}
			return parquet.Int64Value(int64(x)), nil
		}
	case Double:
		switch x := v.(type) {
		case float64:
			return parquet.DoubleValue(x), nil
		case float32:
			return parquet.DoubleValue(float64(x)), nil
		}
	case String:
		if x, ok := v.(string); ok {
			// The writer copies the bytes into its buffers: no copy here.
			return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(x), len(x))), nil
		}
	case Bool:
		if x, ok := v.(bool); ok {
			return parquet.BooleanValue(x), nil
		}
	}
	return parquet.Value{}, fmt.Errorf("value %v (%T) is not a %s", v, v, t)
}

// orderedGroup is a parquet group whose columns keep the caller's order (parquet.Group
// sorts them by name), as parquet-go's own variant groups do.
type orderedGroup struct {
	parquet.Group
	order []string
}

// Fields returns the group's fields in the caller's order.
func (g orderedGroup) Fields() []parquet.Field {
	fields := g.Group.Fields()
	byName := make(map[string]parquet.Field, len(fields))
	for _, f := range fields {
		byName[f.Name()] = f
	}
	out := make([]parquet.Field, len(g.order))
	for i, n := range g.order {
		out[i] = byName[n]
	}
	return out
}
