package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/temporalx"
)

// opsResult is the opsflow side's figures.
type opsResult struct {
	what         string
	seconds      float64
	cpuSeconds   float64 // user + system of the benchmark process during the side
	s3CPUSeconds float64 // the same of the stack's S3 server (versitygw), when its pid is known
	maxRSSKiB    int64
	parquetBytes int64
	files        int
	partitions   int
	records      map[string]int64     // NDJSON objects converted, per dataset
	lines        map[string]int64     // their lines (root rows), per dataset
	tables       map[string]tableStat // rows written per table, all partitions
	notes        string
}

type tableStat struct{ rows, columns int64 }

// opsflowSide runs stage 2 as the worker does: BridgeParquetActivities (the S3 client of the
// stack's server, OPSFLOW_S3_*) in the Temporal SDK's activity test environment (heartbeats
// recorded, not sent), ListStalePartitions per dataset, then ConvertPartition on every stale
// partition, -parallel at a time like BridgeJSONToParquet's fan-out.
type opsflowSide struct {
	cfg    config.S3
	s3     *s3.Client
	bucket string
	tmp    string
}

func newOpsflowSide(ctx context.Context, o options) (*opsflowSide, error) {
	cfg := config.Default().S3
	for k, p := range map[string]*string{"OPSFLOW_S3_ENDPOINT": &cfg.Endpoint, "OPSFLOW_S3_REGION": &cfg.Region,
		"OPSFLOW_S3_ACCESS_KEY": &cfg.AccessKey, "OPSFLOW_S3_SECRET_KEY": &cfg.SecretKey} {
		if v := os.Getenv(k); v != "" {
			*p = v
		}
	}
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("OPSFLOW_S3_ENDPOINT is not set: run it with make bench-bridge, or eval \"$(scripts/stack env)\" first (scripts/stack up starts the S3 server)")
	}
	c, err := s3store.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &opsflowSide{cfg: cfg, s3: c, bucket: fmt.Sprintf("bench-bridge-%d", time.Now().UnixNano())}
	if err := s3store.EnsureBucket(ctx, c, s.bucket); err != nil {
		return nil, fmt.Errorf("S3 server at %s: %w (start it with scripts/stack up)", cfg.Endpoint, err)
	}
	return s, nil
}

func (s *opsflowSide) describe() string {
	return fmt.Sprintf("NDJSON uploaded to bucket %s on %s", s.bucket, s.cfg.Endpoint)
}

// prepare uploads every NDJSON object to the bucket at its key, as stage 1 leaves them
// (untimed).
func (s *opsflowSide) prepare(ctx context.Context, root string, sets []*dataset) error {
	var keys []string
	for _, d := range sets {
		keys = append(keys, d.keys...)
	}
	s.tmp = filepath.Join(root, "opsflow-tmp")
	if err := os.MkdirAll(s.tmp, 0o755); err != nil {
		return err
	}
	return forEach(ctx, keys, 16, func(ctx context.Context, key string) error {
		return s3store.PutFile(ctx, s.s3, s.bucket, key, filepath.Join(root, filepath.FromSlash(key)), nil)
	})
}

// forEach runs fn on every item, n at a time, and returns the first error.
func forEach[T any](ctx context.Context, items []T, n int, fn func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan T)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := fn(ctx, it); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// convert is the timed side: GOMAXPROCS = -threads, the peak RSS reset first, the CPU profile
// (-cpuprofile) around it.
func (s *opsflowSide) convert(ctx context.Context, o options, sets []*dataset) (*opsResult, error) {
	a := &activities.BridgeParquetActivities{S3: s.s3, Bucket: s.bucket, TempDir: s.tmp, Compression: o.codec}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(temporalx.NewLogger("warn")))
	run := func(fn any, in any, out any) error {
		env := ts.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		v, err := env.ExecuteActivity(fn, in)
		if err != nil {
			return err
		}
		return v.Get(out)
	}
	res := &opsResult{what: fmt.Sprintf("BridgeParquetActivities (ListStalePartitions + ConvertPartition, %d partitions at a time)", o.parallel),
		records: map[string]int64{}, lines: map[string]int64{}, tables: map[string]tableStat{}}

	prev := runtime.GOMAXPROCS(o.threads)
	defer runtime.GOMAXPROCS(prev)
	if err := resetPeakRSS(); err != nil {
		return nil, err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	if o.memprofile != "" {
		if err := writeAllocs(o.memprofile + ".base"); err != nil { // for pprof -diff_base
			return nil, err
		}
	}
	s3pid := s3ServerPID()
	cpu0, s3cpu0 := cpuSeconds(), procCPU(s3pid)
	start := time.Now()
	var mu sync.Mutex
	for _, d := range sets {
		var stale activities.StalePartitions
		if err := run(a.ListStalePartitions, activities.BridgeDatasetInput{Dataset: d.name}, &stale); err != nil {
			return nil, fmt.Errorf("ListStalePartitions %s: %w", d.name, err)
		}
		res.partitions += len(stale.Partitions)
		err := forEach(ctx, stale.Partitions, o.parallel, func(ctx context.Context, part string) error {
			var r activities.ConvertPartitionResult
			if err := run(a.ConvertPartition, activities.ConvertPartitionInput{Dataset: d.name, Partition: part}, &r); err != nil {
				return fmt.Errorf("ConvertPartition %s %s: %w", d.name, part, err)
			}
			mu.Lock()
			defer mu.Unlock()
			res.records[d.name] += int64(r.Records)
			res.lines[d.name] += r.Lines
			for t, n := range r.Rows {
				st := res.tables[t]
				st.rows += n
				res.tables[t] = st
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	res.seconds = time.Since(start).Seconds()
	res.cpuSeconds = cpuSeconds() - cpu0
	if s3pid != "" {
		res.s3CPUSeconds = procCPU(s3pid) - s3cpu0
	}
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if o.memprofile != "" {
		if err := writeAllocs(o.memprofile); err != nil {
			return nil, err
		}
	}
	hwm, err := procStatusKiB("VmHWM")
	if err != nil {
		return nil, err
	}
	res.maxRSSKiB = hwm
	if err := s.outputs(ctx, res); err != nil {
		return nil, err
	}
	codec := o.codec
	if codec == "" {
		codec = activities.DefaultBridgeCompression
	}
	res.notes = "opsflow GETs each NDJSON object once from the stack's S3 server (16 at a time per partition) into a local " +
		"temporary file that both passes read (pass 1 infers the schema, pass 2 writes), " +
		"and writes " + codec + " Parquet parts through temporary files uploaded to S3, with a _schema.json per table and partition, " +
		"a manifest per partition; DuckDB reads the same NDJSON from local files once and writes one snappy file per dataset. " +
		"The S3 server (versitygw) runs on the same CPUs during the opsflow side. Rows/s count input records on both sides."
	return res, nil
}

// outputs adds the Parquet files' count and bytes and each table's columns (from its
// _schema.json), untimed.
func (s *opsflowSide) outputs(ctx context.Context, res *opsResult) error {
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String("parquet/")})
	schemas := map[string]string{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			switch filepath.Ext(k) {
			case ".parquet":
				res.files++
				res.parquetBytes += aws.ToInt64(o.Size)
			case ".json":
				if filepath.Base(k) == activities.SchemaFileName {
					schemas[tableOfKey(k)] = k
				}
			}
		}
	}
	for t, k := range schemas {
		var tab struct{ Columns []json.RawMessage }
		if err := getJSON(ctx, s.s3, s.bucket, k, &tab); err != nil {
			return err
		}
		st := res.tables[t]
		st.columns = int64(len(tab.Columns))
		res.tables[t] = st
	}
	return nil
}

// check fails the run unless every record was converted once.
func (s *opsflowSide) check(r *opsResult, sets []*dataset) error {
	for _, d := range sets {
		if r.records[d.name] != d.records || r.lines[d.name] != d.records {
			return fmt.Errorf("opsflow side converted %d objects (%d lines) of %s, the data has %d records",
				r.records[d.name], r.lines[d.name], d.name, d.records)
		}
	}
	return nil
}

func (s *opsflowSide) cleanup() {
	if err := dropBucket(context.Background(), s.s3, s.bucket); err != nil {
		say("could not delete bucket %s: %v", s.bucket, err)
	}
}

// cpuSeconds is this process's user + system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// writeAllocs writes the allocations profile (-memprofile): what the side allocated.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}
