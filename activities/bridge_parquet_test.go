package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/parquetx"
	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

const nestedDataset = "pytest_nested_table"

var (
	day1 = bridge.Partition{AssessmentID: "exampleassessment", Year: 2022, Month: 9, Day: 1}
	day2 = bridge.Partition{AssessmentID: "exampleassessment", Year: 2022, Month: 9, Day: 2}
)

func newBridgeParquet(t *testing.T) (*BridgeParquetActivities, *testsuite.TestActivityEnvironment) {
	c, bucket := s3test.NewBucket(t)
	acts := &BridgeParquetActivities{S3: c, Bucket: bucket, TempDir: t.TempDir()}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return acts, env
}

// nestedLine is the original's nested fixture record (tests/test_json_s3_to_parquet/
// dataset=pytest_nested_table) with the fields stage 1 injects.
func nestedLine(id string, p bridge.Partition) string {
	return fmt.Sprintf(`{"recordid":%q,"arrayofobjectsfield":[{"filename":%q,"timestamp":%q}],`+
		`"objectfield":{"filename":%q,"timestamp":%q},"assessmentid":%q,"year":%d,"month":%d,"day":%d}`,
		id, id, id, id, id, p.AssessmentID, p.Year, p.Month, p.Day)
}

func putRecord(t *testing.T, a *BridgeParquetActivities, dataset string, p bridge.Partition, id string, lines ...string) {
	t.Helper()
	s3test.Put(t, a.S3, a.Bucket, bridge.RawJSONKey(dataset, p, id), []byte(strings.Join(lines, "\n")+"\n"), nil)
}

func listStale(t *testing.T, env *testsuite.TestActivityEnvironment, a *BridgeParquetActivities, dataset string) StalePartitions {
	t.Helper()
	v, err := env.ExecuteActivity(a.ListStalePartitions, BridgeDatasetInput{Dataset: dataset})
	require.NoError(t, err)
	var out StalePartitions
	require.NoError(t, v.Get(&out))
	return out
}

func convertPartition(env *testsuite.TestActivityEnvironment, a *BridgeParquetActivities, dataset string, p bridge.Partition) (ConvertPartitionResult, error) {
	v, err := env.ExecuteActivity(a.ConvertPartition, ConvertPartitionInput{Dataset: dataset, Partition: p.Path()})
	if err != nil {
		return ConvertPartitionResult{}, err
	}
	var out ConvertPartitionResult
	return out, v.Get(&out)
}

func checkCompleteness(t *testing.T, env *testsuite.TestActivityEnvironment, a *BridgeParquetActivities, dataset string) CompletenessResult {
	t.Helper()
	v, err := env.ExecuteActivity(a.CheckCompleteness, BridgeDatasetInput{Dataset: dataset})
	require.NoError(t, err)
	var out CompletenessResult
	require.NoError(t, v.Get(&out))
	return out
}

// keys lists the bucket's keys under prefix.
func keys(t *testing.T, a *BridgeParquetActivities, prefix string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(a.S3, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// readTable reads back every part of a table in a partition with parquetx.
func readTable(t *testing.T, a *BridgeParquetActivities, table string, p bridge.Partition) ([]parquetx.Column, [][]any) {
	t.Helper()
	var cols []parquetx.Column
	var rows [][]any
	for _, k := range keys(t, a, bridge.TablePrefix(table)+p.Path()) {
		if !strings.HasSuffix(k, ".parquet") {
			continue
		}
		out, err := a.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(k)})
		require.NoError(t, err)
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		f, err := parquetx.Open(strings.NewReader(string(b)), int64(len(b)))
		require.NoError(t, err, k)
		assert.Equal(t, "ZSTD", f.Compression())
		cols = f.Columns()
		r, err := f.Rows()
		require.NoError(t, err)
		rows = append(rows, r...)
	}
	return cols, rows
}

func colNames(cols []parquetx.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// The original's nested fixture, as stage 1 writes it (3 records over 2 days), converted:
// the tables, columns, rows and join keys read back with parquetx and with DuckDB; the
// manifests make the partitions up to date; every record is in the root table.
func TestConvertPartitionNestedFixture(t *testing.T) {
	a, env := newBridgeParquet(t)
	putRecord(t, a, nestedDataset, day1, "one", nestedLine("one", day1))
	putRecord(t, a, nestedDataset, day1, "two", nestedLine("two", day1))
	putRecord(t, a, nestedDataset, day2, "three", nestedLine("three", day2))

	stale := listStale(t, env, a, nestedDataset)
	assert.Equal(t, StalePartitions{Partitions: []string{day1.Path(), day2.Path()}, Records: 3}, stale)

	root, child := "dataset_pytest_nested_table", "dataset_pytest_nested_table_arrayofobjectsfield"
	res, err := convertPartition(env, a, nestedDataset, day1)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Records)
	assert.Equal(t, map[string]int64{root: 2, child: 2}, res.Rows)
	assert.Equal(t, []string{
		"parquet/" + root + "/" + day1.Path() + "_schema.json",
		"parquet/" + root + "/" + day1.Path() + "part-00000.parquet",
		"parquet/" + child + "/" + day1.Path() + "_schema.json",
		"parquet/" + child + "/" + day1.Path() + "part-00000.parquet",
	}, res.Files)
	_, err = convertPartition(env, a, nestedDataset, day2)
	require.NoError(t, err)

	cols, rows := readTable(t, a, root, day1)
	assert.Equal(t, []string{"arrayofobjectsfield", "objectfield_filename", "objectfield_timestamp",
		"assessmentid", "year", "month", "day", "recordid"}, colNames(cols))
	require.Len(t, rows, 2)
	assert.Equal(t, []any{"one", "one", "exampleassessment", "2022", "9", "1", "one"}, rows[0][1:])
	ccols, crows := readTable(t, a, child, day1)
	assert.Equal(t, []string{"id", "index", "filename", "timestamp", "assessmentid", "year", "month", "day", "recordid"}, colNames(ccols))
	assert.Equal(t, [][]any{
		{rows[0][0], int64(0), "one", "one", "exampleassessment", "2022", "9", "1", "one"},
		{rows[1][0], int64(0), "two", "two", "exampleassessment", "2022", "9", "1", "two"},
	}, crows)

	var schema struct {
		Table   string `json:"table"`
		Columns []parquetx.Column
	}
	getJSONObject(t, a, bridge.TablePrefix(child)+day1.Path()+SchemaFileName, &schema)
	assert.Equal(t, child, schema.Table)
	assert.Equal(t, ccols, schema.Columns)

	// DuckDB, the independent reader: the child joins its parent on id.
	r := duckdb.ReadS3(t, a.S3, a.Bucket, bridge.ParquetPrefix,
		`SELECT r.recordid, c.filename, c."index", c.day FROM `+root+` r JOIN `+child+` c ON c.id = r.arrayofobjectsfield ORDER BY r.recordid`)
	assert.Equal(t, int64(3), r.Tables[root].Rows)
	assert.Equal(t, int64(3), r.Tables[child].Rows)
	assert.Equal(t, 2, r.Tables[root].Files)
	assert.Equal(t, [][]any{{"one", "one", int64(0), "1"}, {"three", "three", int64(0), "2"}, {"two", "two", int64(0), "1"}}, r.Queries[0].Rows)

	assert.Equal(t, StalePartitions{}, listStale(t, env, a, nestedDataset), "every partition is converted")
	assert.Equal(t, CompletenessResult{Records: 3}, checkCompleteness(t, env, a, nestedDataset))
}

func getJSONObject(t *testing.T, a *BridgeParquetActivities, key string, v any) {
	t.Helper()
	out, err := a.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	require.NoError(t, err, key)
	defer out.Body.Close()
	require.NoError(t, json.NewDecoder(out.Body).Decode(v))
}

// A partition is stale when a record is added or written with other content (not when
// written again the same), when its NDJSON is gone; keys that are not records are listed.
func TestListStalePartitions(t *testing.T) {
	a, env := newBridgeParquet(t)
	putRecord(t, a, "x_v1", day1, "r1", `{"a":1}`)
	_, err := convertPartition(env, a, "x_v1", day1)
	require.NoError(t, err)
	assert.Empty(t, listStale(t, env, a, "x_v1").Partitions)

	putRecord(t, a, "x_v1", day1, "r1", `{"a":1}`)
	assert.Empty(t, listStale(t, env, a, "x_v1").Partitions, "the same content again: the same ETag")

	putRecord(t, a, "x_v1", day1, "r1", `{"a":2}`)
	putRecord(t, a, "x_v1", day2, "r2", `{"a":3}`)
	s3test.Put(t, a.S3, a.Bucket, bridge.DatasetPrefix("x_v1")+"notes.txt", []byte("x"), nil)
	s3test.Put(t, a.S3, a.Bucket, bridge.DatasetPrefix("x_v1")+"assessmentid=a/year=2022/month=09/day=1/r3.ndjson", []byte("{}"), nil)
	assert.Equal(t, StalePartitions{Partitions: []string{day1.Path(), day2.Path()}, Records: 2, Unexpected: []string{
		"raw_json/dataset=x_v1/assessmentid=a/year=2022/month=09/day=1/r3.ndjson",
		"raw_json/dataset=x_v1/notes.txt",
	}}, listStale(t, env, a, "x_v1"))

	for _, p := range []bridge.Partition{day1, day2} {
		_, err := convertPartition(env, a, "x_v1", p)
		require.NoError(t, err)
	}
	assert.Empty(t, listStale(t, env, a, "x_v1").Partitions)

	// day 2's only record is deleted: its tables go with it.
	_, err = a.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(bridge.RawJSONKey("x_v1", day2, "r2"))})
	require.NoError(t, err)
	assert.Equal(t, []string{day2.Path()}, listStale(t, env, a, "x_v1").Partitions)
	res, err := convertPartition(env, a, "x_v1", day2)
	require.NoError(t, err)
	assert.Equal(t, 0, res.Records)
	assert.Empty(t, keys(t, a, bridge.TablePrefix("dataset_x_v1")+day2.Path()))
	assert.Empty(t, keys(t, a, ConvertedPrefix+"dataset=x_v1/"+day2.Path()))
	assert.Empty(t, listStale(t, env, a, "x_v1").Partitions)

	_, err = env.ExecuteActivity(a.ListStalePartitions, BridgeDatasetInput{Dataset: "../x"})
	assertAppErr(t, err, ErrInvalidInput, `dataset id "../x"`)
}

// Completeness lists the records missing from the root table: in a partition not converted
// (or changed since), an NDJSON object without lines, a part deleted behind the stage's back.
func TestCheckCompletenessListsMissingRecords(t *testing.T) {
	a, env := newBridgeParquet(t)
	putRecord(t, a, "x_v1", day1, "r1", `{"a":1}`)
	s3test.Put(t, a.S3, a.Bucket, bridge.RawJSONKey("x_v1", day1, "empty"), nil, nil)
	putRecord(t, a, "x_v1", day2, "r2", `{"a":2}`)
	assert.Equal(t, CompletenessResult{Records: 3, Missing: []string{"empty", "r1", "r2"}, MissingCount: 3},
		checkCompleteness(t, env, a, "x_v1"), "nothing converted yet")

	_, err := convertPartition(env, a, "x_v1", day1)
	require.NoError(t, err)
	assert.Equal(t, CompletenessResult{Records: 3, Missing: []string{"empty", "r2"}, MissingCount: 2},
		checkCompleteness(t, env, a, "x_v1"))

	_, err = convertPartition(env, a, "x_v1", day2)
	require.NoError(t, err)
	putRecord(t, a, "x_v1", day2, "r3", `{"a":3}`)
	assert.Equal(t, CompletenessResult{Records: 4, Missing: []string{"empty", "r2", "r3"}, MissingCount: 3},
		checkCompleteness(t, env, a, "x_v1"), "day 2 changed since its conversion")

	_, err = convertPartition(env, a, "x_v1", day2)
	require.NoError(t, err)
	assert.Equal(t, CompletenessResult{Records: 4, Missing: []string{"empty"}, MissingCount: 1}, checkCompleteness(t, env, a, "x_v1"))

	part := bridge.TablePrefix("dataset_x_v1") + day1.Path() + PartName(0)
	_, err = a.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(part)})
	require.NoError(t, err)
	assert.Equal(t, CompletenessResult{Records: 4, Missing: []string{"empty", "r1"}, MissingCount: 2}, checkCompleteness(t, env, a, "x_v1"))
}

func assertAppErr(t *testing.T, err error, typ, contains string) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, typ, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), contains)
	return appErr
}

// tempDirEmpty: no temporary part is left behind.
func tempDirEmpty(t *testing.T, a *BridgeParquetActivities) {
	t.Helper()
	entries, err := os.ReadDir(a.TempDir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Empty(t, slices.Clip(names))
}
