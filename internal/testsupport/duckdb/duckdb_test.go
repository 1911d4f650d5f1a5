package duckdb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

type row struct {
	ID       int64    `parquet:"id"`
	Name     string   `parquet:"name"`
	Score    *float64 `parquet:"score,optional"`
	OK       bool     `parquet:"ok"`
	RecordID string   `parquet:"recordid"`
}

func parquetFile(t *testing.T, rows []row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf, parquet.Compression(&parquet.Snappy))
	_, err := w.Write(rows)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

var half = 0.5

// Two partitions of one table, a folder that is not a table, and a manifest folder that is
// skipped: DuckDB sees one table with the hive columns as VARCHAR and parquet-go's values.
func tablesFixture(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"dataset_x/assessmentid=a/year=2022/month=09/day=01/part-00000.parquet": parquetFile(t, []row{
			{ID: 1, Name: "one", Score: &half, OK: true, RecordID: "r1"},
			{ID: -9007199254740993, Name: "", Score: nil, OK: false, RecordID: "r2"},
		}),
		"dataset_x/assessmentid=a/year=2022/month=09/day=02/part-00000.parquet": parquetFile(t, []row{
			{ID: 3, Name: "three", OK: true, RecordID: "r3"},
		}),
		"_converted/dataset=x/manifest.json": []byte(`{}`),
		"empty/readme.txt":                   []byte("no parquet here"),
	}
}

func checkTables(t *testing.T, r *Result, queried QueryResult) {
	require.Contains(t, r.Tables, "dataset_x")
	assert.Len(t, r.Tables, 1, "only folders holding Parquet files are tables")
	tab := r.Tables["dataset_x"]
	assert.EqualValues(t, 3, tab.Rows)
	assert.Equal(t, 2, tab.Files)
	assert.Equal(t, map[string]string{
		"id": "BIGINT", "name": "VARCHAR", "score": "DOUBLE", "ok": "BOOLEAN", "recordid": "VARCHAR",
		"assessmentid": "VARCHAR", "year": "VARCHAR", "month": "VARCHAR", "day": "VARCHAR",
	}, tab.Types())

	assert.Equal(t, []string{"id", "name", "score", "ok", "day"}, queried.ColumnNames())
	assert.Equal(t, []map[string]any{
		{"id": int64(-9007199254740993), "name": "", "score": nil, "ok": false, "day": "01"},
		{"id": int64(1), "name": "one", "score": 0.5, "ok": true, "day": "01"},
		{"id": int64(3), "name": "three", "score": nil, "ok": true, "day": "02"},
	}, queried.Maps())
}

const fixtureQuery = "SELECT id, name, score, ok, day FROM dataset_x ORDER BY id"

func TestReadLocalTables(t *testing.T) {
	dir := t.TempDir()
	for p, b := range tablesFixture(t) {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), b)
	}
	r := Read(t, dir, fixtureQuery)
	assert.NotEmpty(t, r.Version)
	require.Len(t, r.Queries, 1)
	checkTables(t, r, r.Queries[0])
}

func TestReadS3Prefix(t *testing.T) {
	c, bucket := s3test.NewBucket(t)
	for p, b := range tablesFixture(t) {
		s3test.Put(t, c, bucket, "parquet/"+p, b, nil)
	}
	s3test.Put(t, c, bucket, "raw_json/dataset=x/other.ndjson", []byte("{}\n"), nil)
	r := ReadS3(t, c, bucket, "parquet/", fixtureQuery)
	require.Len(t, r.Queries, 1)
	checkTables(t, r, r.Queries[0])
}

func TestQueryReadsFilesItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	writeFile(t, path, parquetFile(t, []row{{ID: 7, Name: "seven", OK: true, RecordID: "r7"}}))
	q := Query(t, "SELECT count(*) AS n, max(name) AS name FROM read_parquet('"+path+"')")
	assert.Equal(t, []any{int64(1), "seven"}, q.Rows[0])
}

func TestErrors(t *testing.T) {
	t.Run("no venv: an instruction, not a skip", func(t *testing.T) {
		t.Setenv(PythonEnv, "")
		_, err := PythonPath()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "scripts/stack up")
	})
	t.Run("a bad query carries DuckDB's message", func(t *testing.T) {
		py, err := PythonPath()
		require.NoError(t, err)
		_, err = Run(t.Context(), py, Options{Queries: []string{"SELECT * FROM no_such_table"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no_such_table")
	})
	t.Run("a missing folder", func(t *testing.T) {
		py, err := PythonPath()
		require.NoError(t, err)
		_, err = Run(t.Context(), py, Options{TablesDir: filepath.Join(t.TempDir(), "missing")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a folder")
	})
}
