package parquetx

import (
	"fmt"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// batchRows is how many rows a Writer buffers before giving them to parquet-go at once:
// parquet-go's cost per call and column is about that of a value, so one row per call
// doubles the cost of writing narrow rows.
const batchRows = 256

// batchBytes is the room for the buffered rows' strings (copied: the caller's memory may
// change after Write returns); a row whose strings do not fit is written on its own.
const batchBytes = 64 << 10

// batch is the rows buffered: their values, column after column, row after row, and a copy
// of their byte arrays.
type batch struct {
	cols  int
	vals  []parquet.Value // cap batchRows*cols: never moves
	bytes []byte          // cap batchBytes: never moves
	rows  []parquet.Row
}

// batches keep the buffers of closed writers for the next ones (a conversion writes
// hundreds of files).
var batches sync.Pool

func newBatch(cols int) batch {
	if b, ok := batches.Get().(*batch); ok && cap(b.vals) >= batchRows*cols {
		return batch{cols: cols, vals: b.vals[: 0 : batchRows*cols], bytes: b.bytes[:0], rows: b.rows[:0]}
	}
	return batch{cols: cols, vals: make([]parquet.Value, 0, batchRows*cols), bytes: make([]byte, 0, batchBytes),
		rows: make([]parquet.Row, 0, batchRows)}
}

// release gives the buffers back for another writer.
func (b *batch) release() {
	if b.vals == nil {
		return
	}
	clear(b.rows[:cap(b.rows)])
	batches.Put(&batch{vals: b.vals[:0:cap(b.vals)], bytes: b.bytes[:0], rows: b.rows[:0]})
	*b = batch{cols: b.cols}
}

func (b *batch) len() int { return len(b.vals) / b.cols }

func (b *batch) size() int64 { return int64(len(b.bytes)) + int64(len(b.vals))*8 }

// writeRow buffers w.row (leveled values that may share the caller's memory), writing the
// batch first when it is full.
func (w *Writer) writeRow() error {
	need := 0
	for _, v := range w.row {
		if !v.IsNull() && v.Kind() == parquet.ByteArray {
			need += len(v.ByteArray())
		}
	}
	b := &w.b
	if b.len() == batchRows || len(b.bytes)+need > cap(b.bytes) {
		if err := w.writeBatch(); err != nil {
			return err
		}
	}
	if need > cap(b.bytes) {
		if _, err := w.w.WriteRows([]parquet.Row{w.row}); err != nil {
			return fmt.Errorf("parquet: write row: %w", err)
		}
	} else {
		for _, v := range w.row {
			if !v.IsNull() && v.Kind() == parquet.ByteArray {
				off := len(b.bytes)
				b.bytes = append(b.bytes, v.ByteArray()...)
				v = parquet.ByteArrayValue(b.bytes[off:len(b.bytes):len(b.bytes)]).Level(v.RepetitionLevel(), v.DefinitionLevel(), v.Column())
			}
			b.vals = append(b.vals, v)
		}
	}
	return w.rowAdded()
}

// rowAdded counts a row written or buffered and cuts the row group at RowGroupRows.
func (w *Writer) rowAdded() error {
	w.rows++
	w.groupRows++
	if w.opt.RowGroupRows > 0 && w.groupRows >= w.opt.RowGroupRows {
		return w.flush()
	}
	return nil
}

// writeBatch gives the buffered rows to parquet-go and cuts the row group once it reached
// RowGroupBytes.
func (w *Writer) writeBatch() error {
	b := &w.b
	n := b.len()
	if n == 0 {
		return nil
	}
	b.rows = b.rows[:0]
	for i := range n {
		b.rows = append(b.rows, b.vals[i*b.cols:(i+1)*b.cols:(i+1)*b.cols])
	}
	_, err := w.w.WriteRows(b.rows)
	clear(b.vals)
	b.vals, b.bytes = b.vals[:0], b.bytes[:0]
	if err != nil {
		return fmt.Errorf("parquet: write rows: %w", err)
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
