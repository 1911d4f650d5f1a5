package parquetx

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// File is a Parquet file opened to read its columns back (completeness checks, tests).
type File struct {
	f    *parquet.File
	cols []Column
}

// Open reads the footer of the Parquet file in r (size bytes). It refuses nested schemas
// and column types other than the four this package writes.
func Open(r io.ReaderAt, size int64) (*File, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("parquet: open: %w", err)
	}
	fields := f.Schema().Fields()
	cols := make([]Column, len(fields))
	for i, fl := range fields {
		if !fl.Leaf() {
			return nil, fmt.Errorf("parquet: column %q is a group, not a flat column", fl.Name())
		}
		t, err := typeOf(fl.Type())
		if err != nil {
			return nil, fmt.Errorf("parquet: column %q: %w", fl.Name(), err)
		}
		cols[i] = Column{Name: fl.Name(), Type: t}
	}
	return &File{f: f, cols: cols}, nil
}

// Columns are the file's columns in their stored order.
func (f *File) Columns() []Column { return append([]Column(nil), f.cols...) }

// NumRows is the file's number of rows (from its footer).
func (f *File) NumRows() int64 { return f.f.NumRows() }

// RowGroups is the number of row groups in the file.
func (f *File) RowGroups() int { return len(f.f.RowGroups()) }

// Lookup returns a key/value metadata entry of the file.
func (f *File) Lookup(key string) (string, bool) { return f.f.Lookup(key) }

// Compression names the codec of the file's first column chunk ("ZSTD", "SNAPPY", ...).
func (f *File) Compression() string {
	rgs := f.f.Metadata().RowGroups
	if len(rgs) == 0 || len(rgs[0].Columns) == 0 {
		return ""
	}
	return rgs[0].Columns[0].MetaData.Codec.String()
}

// EachValue calls fn with every value of the column named, in row order: nil for null,
// else int64, float64, string or bool. Memory stays at one page.
func (f *File) EachValue(column string, fn func(v any) error) error {
	idx := -1
	for i, c := range f.cols {
		if c.Name == column {
			idx = i
		}
	}
	if idx < 0 {
		return fmt.Errorf("parquet: no column %q", column)
	}
	t := f.cols[idx].Type
	buf := make([]parquet.Value, 1024)
	for _, rg := range f.f.RowGroups() {
		pages := rg.ColumnChunks()[idx].Pages()
		err := eachPage(pages, buf, func(v parquet.Value) error { return fn(goValue(t, v)) })
		pages.Close()
		if err != nil {
			return fmt.Errorf("parquet: column %q: %w", column, err)
		}
	}
	return nil
}

func eachPage(pages parquet.Pages, buf []parquet.Value, fn func(parquet.Value) error) error {
	for {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		values := page.Values()
		for {
			n, err := values.ReadValues(buf)
			for _, v := range buf[:n] {
				if ferr := fn(v); ferr != nil {
					parquet.Release(page)
					return ferr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return err
			}
		}
		parquet.Release(page)
	}
}

// Rows reads every row (values in column order, as EachValue gives them): for tests and
// small files only.
func (f *File) Rows() ([][]any, error) {
	out := make([][]any, 0, f.NumRows())
	r := parquet.NewReader(f.f)
	defer r.Close()
	buf := make([]parquet.Row, 256)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			vals := make([]any, len(f.cols))
			for _, v := range row {
				vals[v.Column()] = goValue(f.cols[v.Column()].Type, v)
			}
			out = append(out, vals)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parquet: read rows: %w", err)
		}
	}
}

func typeOf(t parquet.Type) (Type, error) {
	switch t.Kind() {
	case parquet.Int64:
		return Int64, nil
	case parquet.Double:
		return Double, nil
	case parquet.Boolean:
		return Bool, nil
	case parquet.ByteArray:
		if lt := t.LogicalType(); lt != nil {
			if _, ok := lt.Value.(*format.StringType); ok {
				return String, nil
			}
		}
	}
	return "", fmt.Errorf("type %s is not int64, double, string or boolean", t)
}

func goValue(t Type, v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch t {
	case Int64:
		return v.Int64()
	case Double:
		return v.Double()
	case String:
		return string(v.ByteArray())
	case Bool:
		return v.Boolean()
	}
	return nil
}
