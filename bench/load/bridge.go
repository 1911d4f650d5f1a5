package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
	"github.com/opsflow/opsflow/workflows"
)

// bridgeScenario: -archives realistic Bridge archives (internal/testsupport/bridgedata, upload
// dates spread over -bridge-days days) uploaded with their S3 metadata and notified on the SQS
// queue as S3 does; the notification poll triggered through its schedule (again until every
// archive is started), every BridgeArchiveToJSON run waited for, then one BridgeParquetScan. The
// stage-1 results, the conversions' results and DuckDB's reading of the Parquet tables must agree:
// every record converted, none twice.
func (h *harness) bridgeScenario(ctx context.Context) (*result, error) {
	o := h.o
	suffix := fmt.Sprintf("%d", h.stamp.Unix())
	archives, data := "load-bridge-archives-"+suffix, "load-bridge-data-"+suffix
	notifications, invalid := "load-bridge-events-"+suffix, "load-bridge-invalid-"+suffix
	d, err := h.newDeployment(ctx, "bridge", o.bridgeBatch, []string{"bridge-notifications", "bridge-parquet"},
		"OPSFLOW_BRIDGE_MAPPING="+bridgedata.MappingFile(), "OPSFLOW_BRIDGE_ARCHIVE_BUCKET="+archives,
		"OPSFLOW_BRIDGE_DATA_BUCKET="+data, "OPSFLOW_BRIDGE_NOTIFICATION_QUEUE="+notifications, "OPSFLOW_BRIDGE_INVALID_QUEUE="+invalid)
	if err != nil {
		return nil, err
	}
	defer d.close()
	res := &result{scenario: "bridge", title: fmt.Sprintf("%d Bridge archives", o.archives), loadBefore: loadAverage()}
	for _, b := range []string{archives, data} {
		if err := s3store.EnsureBucket(ctx, h.s3, b); err != nil {
			return nil, err
		}
		d.onClose(func() { d.dropBucket(b) })
	}
	sq, err := sqsclient.New(ctx, h.cfg.Reval.SQSEndpoint, h.cfg.Reval.SQSRegion)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{notifications, invalid} {
		u, err := sq.EnsureQueue(ctx, q)
		if err != nil {
			return nil, err
		}
		d.onClose(func() { _ = sq.DeleteQueue(context.Background(), u) })
		if q == notifications {
			notifications = u
		}
	}

	say("bridge: generating and uploading %d archives", o.archives)
	began := time.Now()
	ids := make([]string, o.archives)
	events := make([]string, o.archives)
	i := 0
	stored, err := putAll(ctx, h.s3, archives, o.parallel, func() *object {
		if i == o.archives {
			return nil
		}
		day := 1 + i%o.bridgeDays
		// The run's prefix first: bridgedata.RecordID may begin with - or _, which
		// bridge.CheckRecordID refuses (the poll ignores such an archive).
		a := bridgedata.Good(bridgedata.Spec{RecordID: fmt.Sprintf("load%s-%s", suffix, bridgedata.RecordID(i)),
			UploadedOn: fmt.Sprintf("2022-09-%02dT18:48:15.890Z", day)})
		ids[i] = a.Spec.RecordID
		events[i] = fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`,
			archives, url.QueryEscape(a.Key()))
		i++
		return &object{key: a.Key(), body: a.Zip, metadata: a.Metadata}
	})
	if err != nil {
		return nil, err
	}
	if err := sq.Send(ctx, notifications, events...); err != nil {
		return nil, err
	}
	res.size = fmt.Sprintf("%d archives (%.1f MiB of ZIPs), %d notifications, upload dates over %d days", o.archives, float64(stored)/(1<<20), o.archives, o.bridgeDays)
	res.row("data generated (untimed)", "%s in %.1f s", res.size, time.Since(began).Seconds())
	if err := d.startWorker(ctx); err != nil {
		return nil, err
	}

	started, polls := 0, 0
	for started < o.archives {
		if polls++; polls > o.archives/100+5 {
			return nil, fmt.Errorf("bridge: %d polls started %d of %d archives", polls-1, started, o.archives)
		}
		say("bridge: triggering bridge-notifications (%d of %d archives started)", started, o.archives)
		id, _, _, err := d.trigger(ctx, "bridge-notifications")
		if err != nil {
			return nil, err
		}
		var drained activities.DrainResult
		if err := h.c.GetWorkflow(ctx, id, "").Get(ctx, &drained); err != nil {
			return nil, fmt.Errorf("poll %s: %w", id, err)
		}
		started += drained.Started
		say("bridge: poll %s: received %d, started %d, duplicates %d, ignored %d", id, drained.Received, drained.Started, drained.Duplicates, drained.Ignored)
		if drained.Received == 0 && started < o.archives {
			return nil, fmt.Errorf("bridge: the notification queue is empty with %d of %d archives started", started, o.archives)
		}
	}
	res.row("notification polls", "%d (each drains up to 20 × batchSize messages)", polls)
	stage1, err := h.waitClosed(ctx, envQuery(d.env, "BridgeArchiveToJSON"), o.archives)
	if err != nil {
		return nil, err
	}
	lines, records, err := h.stage1Results(ctx, ids)
	if err != nil {
		return nil, err
	}
	say("bridge: triggering bridge-parquet")
	scanID, _, _, err := d.trigger(ctx, "bridge-parquet")
	if err != nil {
		return nil, err
	}
	all, err := h.waitClosed(ctx, fmt.Sprintf(`OpsflowEnvironment = %q AND WorkflowType IN (%q, %q, %q, %q)`, d.env, workflows.BridgeNotificationPollProcedure,
		"BridgeArchiveToJSON", workflows.BridgeParquetScanProcedure, "BridgeJSONToParquet"), o.archives+polls+1+len(lines))
	if err != nil {
		return nil, err
	}
	if res.usage, err = d.finish(); err != nil {
		return nil, err
	}
	res.loadAfter = loadAverage()
	res.histories = summarize(all, workflows.BridgeNotificationPollProcedure, "BridgeArchiveToJSON",
		workflows.BridgeParquetScanProcedure, "BridgeJSONToParquet")
	poll, conv, scan := res.stat(workflows.BridgeNotificationPollProcedure), res.stat("BridgeArchiveToJSON"), res.stat(workflows.BridgeParquetScanProcedure)
	s1, s2 := conv.last.Sub(poll.first).Seconds(), scan.last.Sub(scan.first).Seconds()
	res.wall = s1 + s2
	res.wallWhat = "stage 1 + stage 2 below (server times)"
	res.row("stage 1: archives → NDJSON", "%.1f s: first poll started → last BridgeArchiveToJSON closed, %.1f archives/s", s1, float64(o.archives)/s1)
	res.row("stage 2: NDJSON → Parquet", "%.1f s: BridgeParquetScan %s started → closed, %d datasets", s2, scanID, len(lines))
	if note := h.slowestNote(ctx, conv); note != "" {
		res.row("slow runs", "%s", note)
	}
	if conv.statuses["Completed"] != o.archives || len(stage1) != o.archives {
		return nil, fmt.Errorf("bridge: BridgeArchiveToJSON runs %v, want %d completed", conv.statuses, o.archives)
	}
	if err := h.checkParquet(ctx, res, d.env, data, lines, records); err != nil {
		return nil, err
	}
	return res, nil
}

// stage1Results reads every archive run's result: per dataset, the NDJSON lines (root rows)
// and the records written.
func (h *harness) stage1Results(ctx context.Context, ids []string) (map[string]int, map[string]int, error) {
	lines, records := map[string]int{}, map[string]int{}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				var r activities.ArchiveToJSONResult
				err := h.c.GetWorkflow(ctx, workflows.BridgeArchiveWorkflowID(id), "").Get(ctx, &r)
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = fmt.Errorf("BridgeArchiveToJSON %s: %w", workflows.BridgeArchiveWorkflowID(id), err)
				case err == nil && r.Invalid && firstErr == nil:
					firstErr = fmt.Errorf("BridgeArchiveToJSON %s: the record was found invalid", workflows.BridgeArchiveWorkflowID(id))
				}
				for _, w := range r.Datasets {
					lines[w.Dataset] += w.Lines
					records[w.Dataset]++
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return lines, records, firstErr
}

// checkParquet compares each dataset's conversion result and DuckDB's reading of its root table
// with what stage 1 wrote.
func (h *harness) checkParquet(ctx context.Context, res *result, env, bucket string, lines, records map[string]int) error {
	var datasets []string
	for ds := range lines {
		datasets = append(datasets, ds)
	}
	sort.Strings(datasets)
	var queries []string
	for _, ds := range datasets {
		var r workflows.BridgeJSONToParquetResult
		if err := h.c.GetWorkflow(ctx, workflows.BridgeParquetWorkflowID(env, ds), "").Get(ctx, &r); err != nil {
			return fmt.Errorf("BridgeJSONToParquet %s: %w", ds, err)
		}
		if r.Records != records[ds] || r.Completeness.MissingCount != 0 || len(r.Failed) != 0 {
			return fmt.Errorf("BridgeJSONToParquet %s: %d records converted, %d missing, %d partitions failed; stage 1 wrote %d records",
				ds, r.Records, r.Completeness.MissingCount, len(r.Failed), records[ds])
		}
		queries = append(queries, fmt.Sprintf(`SELECT '%s' AS dataset, count(*) AS rows, count(DISTINCT recordid) AS records FROM %s`, ds, bridge.TableName(ds)))
	}
	py, err := duckdb.PythonPath()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(h.o.dir, "bench-load-parquet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := duckdb.Download(ctx, h.s3, bucket, bridge.ParquetPrefix, dir); err != nil {
		return err
	}
	got, err := duckdb.Run(ctx, py, duckdb.Options{TablesDir: dir, Queries: queries})
	if err != nil {
		return err
	}
	var rootRows int64
	for _, q := range got.Queries {
		row := q.Maps()[0]
		ds, _ := row["dataset"].(string)
		rows, _ := row["rows"].(int64)
		recs, _ := row["records"].(int64)
		if rows != int64(lines[ds]) || recs != int64(records[ds]) {
			return fmt.Errorf("DuckDB reads %d rows of %d records in %s; stage 1 wrote %d lines of %d records", rows, recs, bridge.TableName(ds), lines[ds], records[ds])
		}
		rootRows += rows
	}
	var tables int64
	for _, t := range got.Tables {
		tables += t.Rows
	}
	res.row("Parquet", "%d datasets, %d tables, %d rows in all (%d in the root tables); DuckDB %s", len(datasets), len(got.Tables), tables, rootRows, got.Version)
	res.check("every BridgeArchiveToJSON run completed, none invalid; every BridgeJSONToParquet converted all its dataset's records, none missing, no partition failed")
	res.check("DuckDB reads each dataset's root table with exactly the lines stage 1 wrote and one distinct recordid per record: nothing lost, nothing duplicated")
	return nil
}
