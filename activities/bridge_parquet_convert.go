package activities

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/bridge/relational"
	"github.com/opsflow/opsflow/internal/parquetx"
)

// convertProgress is ConvertPartition's heartbeat: the pass (1 infers the schema, 2 writes)
// and the NDJSON objects done in it. A new attempt starts over: the files it writes have the
// same names, so nothing is duplicated.
type convertProgress struct {
	Pass    int
	Sources int
}

// SchemaFileName is written next to a table's parts in each partition: the table's columns
// and types (relational.Table as JSON), for readers and schema-change checks.
const SchemaFileName = "_schema.json"

// PartName is the name of a table's n-th Parquet part in a partition.
func PartName(n int) string { return fmt.Sprintf("part-%05d.parquet", n) }

// ConvertPartition converts all NDJSON objects of one partition of a dataset into Parquet,
// the root table and every child table. Each object is fetched once (the version listed,
// spoolGets at a time) into a local temporary file; two streamed passes over it infer the
// schema, then write; memory is one record plus a row group per table. Then it deletes the partition's
// files no longer written (fewer parts, or a table gone), writes the manifest (the bookmark)
// and clears the pending list. A record written again replaces its rows; a conversion killed
// halfway is run again and overwrites the same names.
func (a *BridgeParquetActivities) ConvertPartition(ctx context.Context, in ConvertPartitionInput) (ConvertPartitionResult, error) {
	if err := bridge.CheckDataset(in.Dataset); err != nil {
		return ConvertPartitionResult{}, permanent(ErrInvalidInput, err, "ConvertPartition: %v", err)
	}
	p, err := bridge.ParsePartitionPath(in.Partition)
	if err != nil || p.Path() != in.Partition {
		return ConvertPartitionResult{}, permanent(ErrInvalidInput, err, "ConvertPartition: partition %q is not a partition path like assessmentid=a/year=2022/month=9/day=1/", in.Partition)
	}
	l, err := a.listDataset(ctx, in.Dataset, in.Partition)
	if err != nil {
		return ConvertPartitionResult{}, err
	}
	srcs := l.partitions[in.Partition]
	root := bridge.TableName(in.Dataset)

	// Each NDJSON object is fetched once, into a local file both passes read.
	sp, err := a.fetchSpool(ctx, srcs, l.sizes)
	if err != nil {
		return ConvertPartitionResult{}, err
	}
	defer sp.close()
	rd := newLineReader()

	// Pass 1: the schema of every table of the partition.
	schema := relational.NewSchema(root)
	res := ConvertPartitionResult{Records: len(srcs), Rows: map[string]int64{}}
	rel := relational.NewRelationalizer(root)
	rel.KindsOnly = true // pass 1 needs the kinds only
	for i, s := range srcs {
		activity.RecordHeartbeat(ctx, convertProgress{Pass: 1, Sources: i})
		recordID := recordIDOfKey(s.Key)
		n, err := a.eachRecordRow(ctx, rd, rel, sp, i, s, p, func(rows []relational.Row, _ relational.Inherited) error {
			schema.Observe(rows, recordID)
			return nil
		})
		if err != nil {
			return ConvertPartitionResult{}, err
		}
		res.Lines += n
	}
	final, err := schema.Final()
	if err != nil {
		for _, c := range schema.Conflicts() {
			res.Conflicts = append(res.Conflicts, c.String())
		}
		return ConvertPartitionResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("dataset %s partition %s: %v", in.Dataset, in.Partition, err), ErrBridgeTypeConflict, nil, res.Conflicts)
	}

	// The tables to clean afterwards: those written now, and those of the last conversion
	// and of any killed one.
	var old partitionManifest
	if _, err := a.getJSON(ctx, ManifestKey(in.Dataset, in.Partition), &old); err != nil {
		return ConvertPartitionResult{}, err
	}
	var pending pendingTables
	if _, err := a.getJSON(ctx, pendingKey(in.Dataset, in.Partition), &pending); err != nil {
		return ConvertPartitionResult{}, err
	}
	var tables []relational.Table
	var clean []string
	for _, t := range final.Tables() {
		if t.Rows > 0 {
			tables = append(tables, t)
			clean = append(clean, t.Name)
		}
	}
	clean = sortedUnion(clean, old.Tables, pending.Tables)
	if err := a.putJSON(ctx, pendingKey(in.Dataset, in.Partition), pendingTables{Tables: clean}); err != nil {
		return ConvertPartitionResult{}, err
	}

	// Pass 2: write.
	rel.Trusted, rel.KindsOnly = true, false // pass 1 validated the same bytes; pass 2 writes values
	files, err := a.writeTables(ctx, in, p, srcs, sp, rd, rel, final, tables)
	if err != nil {
		return ConvertPartitionResult{}, err
	}
	for _, t := range tables {
		res.Rows[t.Name] = t.Rows
	}
	res.Files = files
	if err := a.deleteOthers(ctx, clean, in.Partition, files); err != nil {
		return ConvertPartitionResult{}, err
	}
	if len(srcs) == 0 {
		// The partition's NDJSON is gone: so are its tables and its manifest.
		if err := a.deleteKeys(ctx, []string{ManifestKey(in.Dataset, in.Partition), pendingKey(in.Dataset, in.Partition)}); err != nil {
			return ConvertPartitionResult{}, err
		}
		return res, nil
	}
	m := partitionManifest{Dataset: in.Dataset, Partition: in.Partition, Sources: srcs, Files: files, Rows: res.Rows}
	for _, t := range tables {
		m.Tables = append(m.Tables, t.Name)
	}
	if err := a.putJSON(ctx, ManifestKey(in.Dataset, in.Partition), m); err != nil {
		return ConvertPartitionResult{}, err
	}
	if err := a.deleteKeys(ctx, []string{pendingKey(in.Dataset, in.Partition)}); err != nil {
		return ConvertPartitionResult{}, err
	}
	return res, nil
}

// lineReader reads NDJSON lines with one reused buffer, grown only for long lines.
type lineReader struct {
	r    *bufio.Reader
	long []byte
}

func newLineReader() *lineReader { return &lineReader{r: bufio.NewReaderSize(nil, 64<<10)} }

// line gives the next line (valid until the next call), io.EOF after the last.
func (l *lineReader) line() ([]byte, error) {
	b, err := l.r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, io.EOF) && len(b) > 0 {
			err = nil
		}
		return b, err
	}
	l.long = append(l.long[:0], b...)
	for errors.Is(err, bufio.ErrBufferFull) {
		b, err = l.r.ReadSlice('\n')
		l.long = append(l.long, b...)
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return l.long, err
}

// eachRecordRow reads source i (as fetched into the spool) and gives each line's rows to fn;
// it returns the number of lines.
func (a *BridgeParquetActivities) eachRecordRow(ctx context.Context, rd *lineReader, rel *relational.Relationalizer,
	sp *spool, i int, s source, p bridge.Partition, fn func([]relational.Row, relational.Inherited) error) (int64, error) {
	in := relational.InheritedOf(p, recordIDOfKey(s.Key))
	rd.r.Reset(sp.section(i))
	var line int64
	for {
		b, rerr := rd.line()
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return 0, fmt.Errorf("read s3://%s/%s: %w", a.Bucket, s.Key, rerr)
		}
		if rerr != nil {
			return line, nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		line++
		if line%1024 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		rows, err := rel.Line(b, int(line-1), in)
		if err != nil {
			if _, derr := relational.Decode(b); derr != nil {
				return 0, permanent(ErrBridgeMalformedRecord, derr, "s3://%s/%s line %d is not JSON: %v", a.Bucket, s.Key, line, derr)
			}
			return 0, permanent(ErrBridgeMalformedRecord, err, "s3://%s/%s line %d: %v", a.Bucket, s.Key, line, err)
		}
		if err := fn(rows, in); err != nil {
			return 0, err
		}
	}
}

// writeTables runs pass 2: every table's rows into its parts (each written to a temporary
// file, uploaded once complete), then each table's _schema.json. It returns the keys
// written, sorted.
func (a *BridgeParquetActivities) writeTables(ctx context.Context, in ConvertPartitionInput, p bridge.Partition,
	srcs []source, sp *spool, rd *lineReader, rel *relational.Relationalizer, final *relational.Final, tables []relational.Table) ([]string, error) {
	opt := parquetx.Options{RowGroupBytes: int64(orDefault(a.RowGroupMiB, 64)) << 20, Compression: a.Compression}
	if opt.Compression == "" {
		opt.Compression = DefaultBridgeCompression
	}
	maxFile := int64(orDefault(a.TargetFileMiB, 128)) << 20
	writers := map[string]*parquetx.Rolling{}
	var files []string
	var temps []*os.File
	defer func() {
		for _, f := range temps {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	for _, t := range tables {
		prefix := bridge.TablePrefix(t.Name) + in.Partition
		var tmp *os.File
		o := opt
		o.Metadata = map[string]string{"opsflow.table": t.Name, "opsflow.partition": in.Partition}
		writers[t.Name] = parquetx.NewRolling(bridgeColumns(t.Columns), o, maxFile,
			func(int) (io.Writer, error) {
				f, err := os.CreateTemp(a.TempDir, "bridge-part-*.parquet")
				if err != nil {
					return nil, err
				}
				temps = append(temps, f)
				tmp = f
				return f, nil
			},
			func(n int, _ int64) error {
				return a.uploadPart(ctx, tmp, prefix+PartName(n), &files)
			})
	}
	var cells []relational.Cell
	var vals []parquetx.Value
	for i, s := range srcs {
		activity.RecordHeartbeat(ctx, convertProgress{Pass: 2, Sources: i})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, err := a.eachRecordRow(ctx, rd, rel, sp, i, s, p, func(rows []relational.Row, in relational.Inherited) error {
			inh := [...]parquetx.Value{parquetx.StringValue(in.AssessmentID), parquetx.StringValue(in.Year),
				parquetx.StringValue(in.Month), parquetx.StringValue(in.Day), parquetx.StringValue(in.RecordID)}
			for _, row := range rows {
				var err error
				cells, err = final.Place(cells, row)
				if err != nil {
					return fmt.Errorf("s3://%s/%s: %w", a.Bucket, s.Key, err)
				}
				vals = slices.Grow(vals[:0], len(cells))[:len(cells)]
				base := len(cells) - len(inh)
				for j, c := range cells[:base] {
					vals[j] = cellValue(c)
				}
				copy(vals[base:], inh[:])
				if err := writers[row.Table].WriteValues(vals); err != nil {
					return fmt.Errorf("table %s: %w", row.Table, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, t := range tables {
		if err := writers[t.Name].Close(); err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		key := bridge.TablePrefix(t.Name) + in.Partition + SchemaFileName
		if err := a.putJSON(ctx, key, t); err != nil {
			return nil, err
		}
		files = append(files, key)
	}
	slices.Sort(files)
	return files, nil
}

// uploadPart flushes a completed part's temporary file and puts it at key.
func (a *BridgeParquetActivities) uploadPart(ctx context.Context, f *os.File, key string, files *[]string) error {
	if f == nil {
		return fmt.Errorf("part %s: no temporary file", key)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = a.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key),
		Body: io.NewSectionReader(f, 0, size), ContentLength: aws.Int64(size)})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", a.Bucket, key, err)
	}
	*files = append(*files, key)
	if a.partUploaded != nil {
		a.partUploaded(key)
	}
	f.Close()
	return os.Remove(f.Name())
}

// deleteOthers deletes the objects of tables in the partition that are not in keep: parts
// of a previous conversion beyond this one's, tables that no longer have rows.
func (a *BridgeParquetActivities) deleteOthers(ctx context.Context, tables []string, partition string, keep []string) error {
	var del []string
	for _, t := range tables {
		prefix := bridge.TablePrefix(t) + partition
		pg := s3.NewListObjectsV2Paginator(a.S3, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list s3://%s/%s: %w", a.Bucket, prefix, err)
			}
			for _, o := range page.Contents {
				k := aws.ToString(o.Key)
				if !strings.Contains(strings.TrimPrefix(k, prefix), "/") && !slices.Contains(keep, k) {
					del = append(del, k)
				}
			}
		}
	}
	return a.deleteKeys(ctx, del)
}

func (a *BridgeParquetActivities) deleteKeys(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, err := a.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(k)}); err != nil {
			return fmt.Errorf("delete s3://%s/%s: %w", a.Bucket, k, err)
		}
	}
	return nil
}

// cellValue is a placed cell as its Parquet value.
func cellValue(c relational.Cell) parquetx.Value {
	switch c.Kind {
	case relational.Int64, relational.Array:
		return parquetx.Int64Value(c.Int())
	case relational.Double:
		return parquetx.DoubleValue(c.Float())
	case relational.String:
		return parquetx.StringValue(c.Str())
	case relational.Bool:
		return parquetx.BoolValue(c.IsTrue())
	}
	return parquetx.NullValue()
}

func bridgeColumns(cols []relational.Column) []parquetx.Column {
	out := make([]parquetx.Column, len(cols))
	for i, c := range cols {
		out[i] = parquetx.Column{Name: c.Name, Type: parquetx.Type(c.Type)}
	}
	return out
}

func sortedUnion(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
