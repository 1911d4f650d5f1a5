package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// bigRecord is n lines of about 250 bytes that compress badly, each with a nested array.
func bigRecord(t *testing.T, n int, tag string) []string {
	lines := make([]string, n)
	b := make([]byte, 100)
	for i := range lines {
		_, err := rand.Read(b)
		require.NoError(t, err)
		lines[i] = fmt.Sprintf(`{"tag":%q,"i":%d,"noise":%q,"steps":[{"x":%d}]}`, tag, i, hex.EncodeToString(b), i)
	}
	return lines
}

// A record written again with other content replaces its rows: the partition is converted
// again, its rows are not duplicated, and the parts of the larger previous conversion that
// are not written again are deleted.
func TestConvertPartitionRewrittenRecordReplacesRows(t *testing.T) {
	a, env := newBridgeParquet(t)
	a.TargetFileMiB = 1
	putRecord(t, a, "big_v1", day1, "r1", bigRecord(t, 12000, "first")...)
	putRecord(t, a, "big_v1", day1, "r2", `{"tag":"small","i":0,"steps":[]}`)
	res, err := convertPartition(env, a, "big_v1", day1)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"dataset_big_v1": 12001, "dataset_big_v1_steps": 12000}, res.Rows)
	rootParts := keys(t, a, bridge.TablePrefix("dataset_big_v1")+day1.Path()+"part-")
	require.Greater(t, len(rootParts), 1, "3 MB of noise in parts of 1 MiB")
	tempDirEmpty(t, a)

	putRecord(t, a, "big_v1", day1, "r1", `{"tag":"second","i":0,"steps":[{"x":1},{"x":2}]}`, `{"tag":"second","i":1}`)
	assert.Equal(t, StalePartitions{Partitions: []string{day1.Path()}, Records: 2}, listStale(t, env, a, "big_v1"))
	res, err = convertPartition(env, a, "big_v1", day1)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"dataset_big_v1": 3, "dataset_big_v1_steps": 2}, res.Rows)
	assert.Equal(t, []string{bridge.TablePrefix("dataset_big_v1") + day1.Path() + "part-00000.parquet"},
		keys(t, a, bridge.TablePrefix("dataset_big_v1")+day1.Path()+"part-"), "the extra parts are gone")

	cols, rows := readTable(t, a, "dataset_big_v1", day1)
	assert.Equal(t, []string{"i", "steps", "tag", "assessmentid", "year", "month", "day", "recordid"}, colNames(cols),
		"the column noise is gone with the record that had it")
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%v %v %v", r[0], r[7], r[2]))
	}
	assert.ElementsMatch(t, []string{"0 r1 second", "1 r1 second", "0 r2 small"}, got)
	r := duckdb.ReadS3(t, a.S3, a.Bucket, bridge.ParquetPrefix, `SELECT count(*) FROM dataset_big_v1_steps s JOIN dataset_big_v1 b ON s.id = b.steps`)
	assert.Equal(t, int64(3), r.Tables["dataset_big_v1"].Rows)
	assert.Equal(t, [][]any{{int64(2)}}, r.Queries[0].Rows)
}

// A conversion killed halfway (its context cancelled while it writes, after parts were
// uploaded) leaves no manifest; the partition stays stale, and the next conversion
// overwrites the same names: every row once. Tables a killed conversion had begun (listed
// in its pending list) and no longer written are deleted.
func TestConvertPartitionKilledHalfwayNoDuplicates(t *testing.T) {
	a, env := newBridgeParquet(t)
	a.TargetFileMiB = 1
	for i := range 4 {
		putRecord(t, a, "kill_v1", day1, fmt.Sprintf("r%d", i), bigRecord(t, 5000, fmt.Sprint(i))...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: ctx})
	a.partUploaded = func(string) { cancel() } // killed right after its first part
	_, err := convertPartition(env, a, "kill_v1", day1)
	require.Error(t, err, "cancelled")
	written := keys(t, a, bridge.TablePrefix("dataset_kill_v1")+day1.Path())
	require.NotEmpty(t, written, "the killed conversion had uploaded parts")
	assert.Empty(t, keys(t, a, ManifestKey("kill_v1", day1.Path())))
	assert.NotEmpty(t, keys(t, a, pendingKey("kill_v1", day1.Path())))
	tempDirEmpty(t, a)

	// What an earlier killed conversion left of a table that no longer has rows.
	gone := bridge.TablePrefix("dataset_kill_v1_gone") + day1.Path() + PartName(0)
	s3test.Put(t, a.S3, a.Bucket, gone, []byte("PAR1"), nil)
	require.NoError(t, a.putJSON(context.Background(), pendingKey("kill_v1", day1.Path()),
		pendingTables{Tables: []string{"dataset_kill_v1", "dataset_kill_v1_gone", "dataset_kill_v1_steps"}}))

	a.partUploaded = nil
	var ts testsuite.WorkflowTestSuite
	env = ts.NewTestActivityEnvironment() // a worker restarted
	env.RegisterActivity(a)
	assert.Equal(t, []string{day1.Path()}, listStale(t, env, a, "kill_v1").Partitions)
	res, err := convertPartition(env, a, "kill_v1", day1)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"dataset_kill_v1": 20000, "dataset_kill_v1_steps": 20000}, res.Rows)
	assert.Empty(t, keys(t, a, gone))
	assert.Empty(t, keys(t, a, pendingKey("kill_v1", day1.Path())))
	assert.Empty(t, listStale(t, env, a, "kill_v1").Partitions)

	cols, rows := readTable(t, a, "dataset_kill_v1", day1)
	require.Equal(t, "i", cols[0].Name)
	seen := map[string]int{}
	for _, r := range rows {
		seen[fmt.Sprintf("%v/%v", r[len(r)-1], r[0])]++
	}
	assert.Len(t, seen, 20000)
	for k, n := range seen {
		require.Equal(t, 1, n, "row %s written %d times", k, n)
	}
	r := duckdb.ReadS3(t, a.S3, a.Bucket, bridge.ParquetPrefix,
		`SELECT count(*), count(DISTINCT recordid || '/' || i) FROM dataset_kill_v1`)
	assert.Equal(t, [][]any{{int64(20000), int64(20000)}}, r.Queries[0].Rows)
	assert.Equal(t, CompletenessResult{Records: 4}, checkCompleteness(t, env, a, "kill_v1"))
}

// A type conflict fails the partition non-retryably, naming dataset, partition, table,
// column, both types and both records (also in the details); nothing is written.
func TestConvertPartitionTypeConflict(t *testing.T) {
	a, env := newBridgeParquet(t)
	putRecord(t, a, "mixed_v1", day1, "r1", `{"score":"high","steps":[{"v":1}]}`)
	putRecord(t, a, "mixed_v1", day1, "r2", `{"score":3,"steps":[{"v":true}]}`)
	_, err := convertPartition(env, a, "mixed_v1", day1)
	appErr := assertAppErr(t, err, ErrBridgeTypeConflict, "dataset mixed_v1 partition "+day1.Path()+": type conflicts: ")
	assert.Contains(t, err.Error(), `table dataset_mixed_v1 column "score": string in record r1, int64 in record r2`)
	assert.Contains(t, err.Error(), `table dataset_mixed_v1_steps column "v": int64 in record r1, boolean in record r2`)
	var details []string
	require.NoError(t, appErr.Details(&details))
	assert.Equal(t, []string{
		`table dataset_mixed_v1 column "score": string in record r1, int64 in record r2`,
		`table dataset_mixed_v1_steps column "v": int64 in record r1, boolean in record r2`,
	}, details)
	assert.Empty(t, keys(t, a, bridge.ParquetPrefix))
}

// A line that is not a JSON object, or whose injected fields disagree with its key, fails
// non-retryably naming the key and the line.
func TestConvertPartitionMalformedRecord(t *testing.T) {
	a, env := newBridgeParquet(t)
	putRecord(t, a, "bad_v1", day1, "r1", `{"a":1}`, `{"a":`)
	_, err := convertPartition(env, a, "bad_v1", day1)
	assertAppErr(t, err, ErrBridgeMalformedRecord, "s3://"+a.Bucket+"/"+bridge.RawJSONKey("bad_v1", day1, "r1")+" line 2 is not JSON")

	putRecord(t, a, "bad_v1", day1, "r1", `{"a":1,"recordid":"other"}`)
	_, err = convertPartition(env, a, "bad_v1", day1)
	assertAppErr(t, err, ErrBridgeMalformedRecord, `line 1: the record's field recordid "other" differs from its recordid "r1"`)
	assert.Empty(t, keys(t, a, bridge.ParquetPrefix))

	_, err = env.ExecuteActivity(a.ConvertPartition, ConvertPartitionInput{Dataset: "bad_v1", Partition: "assessmentid=a/year=2022/month=09/day=1/"})
	assertAppErr(t, err, ErrInvalidInput, "is not a partition path")
	assert.True(t, strings.HasPrefix(day1.Path(), "assessmentid="))
}
