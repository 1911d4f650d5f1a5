package parquetx

import (
	"fmt"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// batchRows is how many rows a Writer buffers, column by column, before giving each
// column's values to its parquet-go column writer at once: parquet-go's cost per call and
// column is about that of a value, and its rows API copies every value once more.
const batchRows = 256

// batchBytes is the room for the buffered rows' strings (copied: the caller's memory may
// change after Write returns); a row whose strings do not fit is written on its own.
const batchBytes = 64 << 10

// batch is the rows buffered: each column's leveled values, and a copy of their byte arrays.
type batch struct {
	rows  int
	cols  [][]parquet.Value // each cap batchRows
	bytes []byte            // cap batchBytes: never moves
}

// batches keep the buffers of closed writers for the next ones (a conversion writes
// hundreds of files).
var batches sync.Pool

func newBatch(cols int) batch {
	b, ok := batches.Get().(*batch)
	if !ok {
		b = &batch{bytes: make([]byte, 0, batchBytes)}
	}
	for len(b.cols) < cols {
		b.cols = append(b.cols, make([]parquet.Value, 0, batchRows))
	}
	return batch{cols: b.cols[:cols], bytes: b.bytes[:0]}
}

func (b *batch) size() int64 { return int64(len(b.bytes)) + int64(b.rows*len(b.cols))*8 }

// release gives the buffers back for another writer.
func (b *batch) release() {
	if b.cols == nil {
		return
	}
	batches.Put(&batch{cols: b.cols[:cap(b.cols)], bytes: b.bytes[:0]})
	*b = batch{}
}

// appendRow buffers a row of values, each of its column's kind or null (checked; not
// leveled yet; they may share the caller's memory), writing the batch first when it is full.
func (w *Writer) appendRow(vals []Value) error {
	need := 0
	for i, v := range vals {
		if v.IsNull() {
			continue
		}
		if k := v.Kind(); k != w.kinds[i] {
			return fmt.Errorf("parquet: column %q: a %s value, not a %s", w.cols[i].Name, k, w.cols[i].Type)
		} else if k == parquet.ByteArray {
			need += len(v.ByteArray())
		}
	}
	b := &w.b
	if b.rows == batchRows || len(b.bytes)+need > cap(b.bytes) {
		if err := w.writeBatch(); err != nil {
			return err
		}
	}
	long := need > cap(b.bytes) // written on its own, right away
	for i, v := range vals {
		switch {
		case v.IsNull():
			v = v.Level(0, 0, i)
		case v.Kind() == parquet.ByteArray && !long:
			off := len(b.bytes)
			b.bytes = append(b.bytes, v.ByteArray()...)
			v = parquet.ByteArrayValue(b.bytes[off:len(b.bytes):len(b.bytes)]).Level(0, 1, i)
		default:
			v = v.Level(0, 1, i)
		}
		b.cols[i] = append(b.cols[i], v)
	}
	b.rows++
	if long {
		if err := w.writeBatch(); err != nil {
			return err
		}
	}
	w.rows++
	w.groupRows++
	if w.opt.RowGroupRows > 0 && w.groupRows >= w.opt.RowGroupRows {
		return w.flush()
	}
	return nil
}

// writeBatch gives each column's buffered values to its column writer and cuts the row
// group once it reached RowGroupBytes.
func (w *Writer) writeBatch() error {
	b := &w.b
	if b.rows == 0 {
		return nil
	}
	cws := w.w.ColumnWriters()
	var err error
	for i, vals := range b.cols {
		if err == nil {
			if _, werr := cws[i].WriteRowValues(vals); werr != nil {
				err = fmt.Errorf("parquet: write column %q: %w", w.cols[i].Name, werr)
			}
		}
		clear(vals)
		b.cols[i] = vals[:0]
	}
	b.rows, b.bytes = 0, b.bytes[:0]
	if err != nil {
		return err
	}
	if w.w.Size()-w.flushedAt >= w.opt.RowGroupBytes {
		if err := w.w.Flush(); err != nil {
			return fmt.Errorf("parquet: flush row group: %w", err)
		}
		w.groupRows = 0
		w.flushedAt = w.w.Size()
	}
	return nil
}
