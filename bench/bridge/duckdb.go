package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// duckdbCopy is the DuckDB side, run by the venv's python: per dataset, the issue's
// COPY (SELECT * FROM read_json_auto(<the dataset's NDJSON>)) TO <file> (FORMAT parquet), at
// SET threads = N. DuckDB does not relationalize: each record stays one row with its arrays
// as LIST(STRUCT) columns.
//
//go:embed duckdb_copy.py
var duckdbCopy string

// duckdbResult is what duckdb_copy.py prints, and the child's peak RSS from wait4.
type duckdbResult struct {
	Version  string `json:"version"`
	Datasets map[string]struct {
		Rows    int64   `json:"rows"`
		Seconds float64 `json:"seconds"`
		Bytes   int64   `json:"parquet_bytes"`
	} `json:"datasets"`
	Seconds   float64 `json:"seconds"`
	MaxRSSKiB int64   `json:"-"`
	// CPUSeconds is the child's user + system time, its whole life.
	CPUSeconds float64 `json:"-"`
	Wall       time.Duration
}

type duckdbDataset struct {
	Name string `json:"name"`
	Glob string `json:"glob"`
	Out  string `json:"out"`
}

// runDuckDB converts every dataset under root with DuckDB into outDir; the time is measured in
// the child around the COPY statements (not the interpreter's start), the peak RSS is the
// child's whole life (ru_maxrss).
func runDuckDB(ctx context.Context, python, root, outDir string, sets []*dataset, o options) (*duckdbResult, error) {
	var in struct {
		Threads       int             `json:"threads"`
		PreserveOrder bool            `json:"preserve_order"`
		TempDir       string          `json:"temp_dir"`
		Datasets      []duckdbDataset `json:"datasets"`
	}
	in.Threads, in.PreserveOrder = o.threads, o.duckOrder
	in.TempDir = filepath.Join(outDir, ".duckdb-tmp")
	for _, d := range sets {
		in.Datasets = append(in.Datasets, duckdbDataset{
			Name: d.name,
			Glob: filepath.Join(root, "raw_json", "dataset="+d.name, "**", "*.ndjson"),
			Out:  filepath.Join(outDir, d.name+".parquet"),
		})
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	arg, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, python, "-c", duckdbCopy, string(arg))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("duckdb side (%s): %w: %s", python, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r duckdbResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("duckdb side printed %q: %w", stdout.String(), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSKiB = ru.Maxrss // KiB on Linux
	}
	r.Wall = wall
	r.CPUSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return &r, nil
}
