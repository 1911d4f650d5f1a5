// Package duckdb reads Parquet tables back with DuckDB, the independent reader of the Bridge
// tests: it runs scripts/duckdb-read with the venv python scripts/stack installs DuckDB into
// (OPSFLOW_DUCKDB_PYTHON) and parses its JSON. A reader other than parquet-go checks that the
// files opsflow writes are what any Parquet reader sees, not only what opsflow reads back.
package duckdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// PythonEnv names the variable scripts/stack env sets to the python of DuckDB's venv.
const PythonEnv = "OPSFLOW_DUCKDB_PYTHON"

// Column is a column as DuckDB types it (e.g. BIGINT, DOUBLE, VARCHAR, BOOLEAN).
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Table is what DuckDB reads from one table folder: its columns (hive partition columns
// included, as VARCHAR), its row count and how many Parquet files it spans.
type Table struct {
	Columns []Column `json:"columns"`
	Rows    int64    `json:"rows"`
	Files   int      `json:"files"`
}

// ColumnNames lists the table's column names in DuckDB's order.
func (t Table) ColumnNames() []string { return names(t.Columns) }

// Types maps each column name to its DuckDB type, for order-insensitive assertions.
func (t Table) Types() map[string]string { return types(t.Columns) }

// QueryResult is one query's columns and rows. Values are nil, bool, string, int64 (integral
// numbers), float64, []any or map[string]any; scripts/duckdb-read documents the rest.
type QueryResult struct {
	SQL     string   `json:"sql"`
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// ColumnNames lists the query's column names in order.
func (q QueryResult) ColumnNames() []string { return names(q.Columns) }

// Maps gives each row as a map from column name to value, for readable assertions.
func (q QueryResult) Maps() []map[string]any {
	out := make([]map[string]any, len(q.Rows))
	for i, r := range q.Rows {
		m := make(map[string]any, len(r))
		for j, v := range r {
			if j < len(q.Columns) {
				m[q.Columns[j].Name] = v
			}
		}
		out[i] = m
	}
	return out
}

// Result is scripts/duckdb-read's output: the tables found and each query's result, in the
// order the queries were given.
type Result struct {
	Version string           `json:"duckdb_version"`
	Tables  map[string]Table `json:"tables"`
	Queries []QueryResult    `json:"queries"`
}

// Options say what scripts/duckdb-read reads: TablesDir's subfolders as tables (may be
// empty when the queries read files themselves), then Queries, with Threads DuckDB threads
// (0: DuckDB's default).
type Options struct {
	TablesDir string
	Queries   []string
	Threads   int
}

// ScriptPath is scripts/duckdb-read in this checkout (found from this source file's path).
func ScriptPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "duckdb-read")
}

// PythonPath returns the venv python from OPSFLOW_DUCKDB_PYTHON, or an error telling how to
// get it.
func PythonPath() (string, error) {
	py := os.Getenv(PythonEnv)
	if py == "" {
		return "", fmt.Errorf("%s is not set: run scripts/stack up (it installs DuckDB into a venv) and eval \"$(scripts/stack env)\"", PythonEnv)
	}
	if _, err := os.Stat(py); err != nil {
		return "", fmt.Errorf("%s=%s: %w: run scripts/stack up (it installs DuckDB into a venv)", PythonEnv, py, err)
	}
	return py, nil
}

// Run runs scripts/duckdb-read with python and parses its output; a failure carries the
// script's stderr.
func Run(ctx context.Context, python string, o Options) (*Result, error) {
	var args []string
	args = append(args, ScriptPath())
	if o.TablesDir != "" {
		args = append(args, "--tables", o.TablesDir)
	}
	for _, q := range o.Queries {
		args = append(args, "--query", q)
	}
	if o.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(o.Threads))
	}
	if len(args) == 1 {
		return nil, errors.New("duckdb: nothing to read: give a tables folder or a query")
	}
	cmd := exec.CommandContext(ctx, python, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("scripts/duckdb-read %v: %w: %s", args[1:], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return parse(stdout.Bytes())
}

// parse decodes the script's JSON with numbers kept exact, then turns them into int64 (when
// integral and in range) or float64.
func parse(b []byte) (*Result, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var r Result
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("scripts/duckdb-read printed no valid JSON: %w: %.200s", err, b)
	}
	for qi := range r.Queries {
		for ri, row := range r.Queries[qi].Rows {
			for ci, v := range row {
				r.Queries[qi].Rows[ri][ci] = normalize(v)
			}
		}
	}
	return &r, nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	}
	return v
}

// Read reads dir's table folders with DuckDB and runs queries on them (the views are named
// like the folders); the test fails, never skips, when DuckDB is not installed.
func Read(t testing.TB, dir string, queries ...string) *Result {
	t.Helper()
	return run(t, Options{TablesDir: dir, Queries: queries})
}

// Query runs one query that reads its files itself (e.g. read_parquet('...')) and returns its
// result.
func Query(t testing.TB, sql string) QueryResult {
	t.Helper()
	return run(t, Options{Queries: []string{sql}}).Queries[0]
}

func run(t testing.TB, o Options) *Result {
	t.Helper()
	py, err := PythonPath()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, py, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func names(cs []Column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func types(cs []Column) map[string]string {
	out := make(map[string]string, len(cs))
	for _, c := range cs {
		out[c.Name] = c.Type
	}
	return out
}
