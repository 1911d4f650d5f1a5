package parquetx

import (
	"fmt"
	"io"
	"slices"
)

// Rolling writes a table as a series of Parquet files ("parts"), starting a new part once
// the current one reaches MaxFileBytes, so readers get files of a useful size and a writer
// never holds more than one part. open gives part n's destination; done is called once part
// n is complete (closed), e.g. to upload it.
type Rolling struct {
	cols         []Column
	opt          Options
	maxFileBytes int64
	open         func(part int) (io.Writer, error)
	done         func(part int, rows int64) error

	cur   *Writer
	parts int
	rows  int64
}

// DefaultMaxFileBytes is a part's size cap when NewRolling is given 0.
const DefaultMaxFileBytes = 128 << 20

// NewRolling prepares a table of columns cols; no part is opened before the first row.
func NewRolling(cols []Column, opt Options, maxFileBytes int64,
	open func(part int) (io.Writer, error), done func(part int, rows int64) error) *Rolling {
	if maxFileBytes <= 0 {
		maxFileBytes = DefaultMaxFileBytes
	}
	return &Rolling{cols: cols, opt: opt, maxFileBytes: maxFileBytes, open: open, done: done}
}

// Write appends a row to the current part (opening it if needed), and completes the part
// once it reached the size cap.
func (r *Rolling) Write(values []any) error {
	return r.write(func(w *Writer) error { return w.Write(values) })
}

// WriteValues is Write of typed cells (Writer.WriteValues).
func (r *Rolling) WriteValues(vals []Value) error {
	return r.write(func(w *Writer) error { return w.WriteValues(vals) })
}

func (r *Rolling) write(fn func(*Writer) error) error {
	if r.cur == nil {
		out, err := r.open(r.parts)
		if err != nil {
			return fmt.Errorf("parquet: open part %d: %w", r.parts, err)
		}
		w, err := NewWriter(out, r.cols, r.opt)
		if err != nil {
			return err
		}
		r.cur = w
	}
	if err := fn(r.cur); err != nil {
		return err
	}
	r.rows++
	if r.cur.Rows()%sizeCheckEvery == 0 && r.cur.Size() >= r.maxFileBytes {
		return r.finish()
	}
	return nil
}

func (r *Rolling) finish() error {
	w := r.cur
	r.cur = nil
	if err := w.Close(); err != nil {
		return err
	}
	n := r.parts
	r.parts++
	return r.done(n, w.Rows())
}

// Close completes the current part, if any.
func (r *Rolling) Close() error {
	if r.cur == nil {
		return nil
	}
	return r.finish()
}

// Parts is the number of completed parts.
func (r *Rolling) Parts() int { return r.parts }

// Rows is the number of rows written to all parts.
func (r *Rolling) Rows() int64 { return r.rows }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
