//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
	"github.com/opsflow/opsflow/internal/testsupport/faults"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
	"github.com/opsflow/opsflow/internal/watchers"
	"github.com/opsflow/opsflow/workflows"
)

// bridgeDeployment is a deployment whose worker runs the Bridge downstream on buckets and
// queues of its own, with schedules that never fire on their own (the test triggers them).
type bridgeDeployment struct {
	*deployment
	archives, data              string
	notifications, invalid      string
	s3                          *s3.Client
	sqs                         *sqsclient.Client
	notificationURL, invalidURL string
	stamp                       int64
}

func newBridgeDeployment(t *testing.T) *bridgeDeployment {
	d := newDeployment(t)
	suffix := strings.TrimPrefix(d.environment, "e2e-")
	b := &bridgeDeployment{deployment: d, archives: "bridge-archives-" + suffix, data: "bridge-data-" + suffix,
		notifications: "bridge-events-" + suffix, invalid: "bridge-invalid-" + suffix, stamp: time.Now().UnixNano() % 1000000}
	schedules := filepath.Join(d.dir, "schedules.json")
	var entries []watchers.Schedule
	for _, w := range watchers.All {
		entries = append(entries, watchers.Schedule{Watcher: w.Name, Cron: "0 0 1 1 *", Note: "e2e: triggered by the test"})
	}
	data, err := json.Marshal(entries)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(schedules, data, 0o600))
	d.env = append(d.env, "OPSFLOW_BRIDGE_MAPPING="+bridgedata.MappingFile(), "OPSFLOW_BRIDGE_ARCHIVE_BUCKET="+b.archives,
		"OPSFLOW_BRIDGE_DATA_BUCKET="+b.data, "OPSFLOW_BRIDGE_NOTIFICATION_QUEUE="+b.notifications,
		"OPSFLOW_BRIDGE_INVALID_QUEUE="+b.invalid, "OPSFLOW_BRIDGE_MAX_MIB=16", "OPSFLOW_SCHEDULES_FILE="+schedules)
	ctx := context.Background()
	b.s3, err = s3store.New(ctx, s3test.Config())
	require.NoError(t, err)
	b.sqs, err = sqsclient.New(ctx, os.Getenv("OPSFLOW_SQS_ENDPOINT"), "us-east-1")
	require.NoError(t, err, "OPSFLOW_SQS_ENDPOINT comes from scripts/stack env")
	for _, bucket := range []string{b.archives, b.data} {
		require.NoError(t, s3store.EnsureBucket(ctx, b.s3, bucket))
	}
	b.notificationURL, err = b.sqs.EnsureQueue(ctx, b.notifications)
	require.NoError(t, err)
	b.invalidURL, err = b.sqs.EnsureQueue(ctx, b.invalid)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, u := range []string{b.notificationURL, b.invalidURL} {
			_ = b.sqs.DeleteQueue(context.Background(), u)
		}
		for _, w := range watchers.All {
			_ = d.client.ScheduleClient().GetHandle(context.Background(), watchers.ScheduleID(w.Name, d.environment)).Delete(context.Background())
		}
	})
	out, err := d.starter("schedules", "apply")
	require.NoError(t, err, out)
	return b
}

// upload puts an archive in the archive bucket with its S3 metadata and returns its key.
func (b *bridgeDeployment) upload(t *testing.T, a bridgedata.Archive) string {
	t.Helper()
	require.NoError(t, bridgedata.Upload(context.Background(), b.s3, b.archives, a.Key(), a))
	return a.Key()
}

// notify sends the S3 event notification of a new archive, as S3 (or SNS) delivers it.
func (b *bridgeDeployment) notify(t *testing.T, key string) {
	t.Helper()
	event := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`,
		b.archives, url.QueryEscape(key))
	require.NoError(t, b.sqs.Send(context.Background(), b.notificationURL, event))
}

func (b *bridgeDeployment) trigger(t *testing.T, watcher string) string {
	t.Helper()
	out, err := b.starter("schedules", "trigger", watcher, "--wait", "--timeout", "10m")
	require.NoError(t, err, out)
	return out
}

// archiveRuns waits until every BridgeArchiveToJSON run of the deployment has closed, and returns
// them by status.
func (b *bridgeDeployment) archiveRuns(t *testing.T, want int) map[enumspb.WorkflowExecutionStatus][]string {
	t.Helper()
	ctx := waitCtx(t, 5*time.Minute)
	query := fmt.Sprintf(`OpsflowProcedure = "BridgeArchiveToJSON" AND OpsflowEnvironment = %q`, b.environment)
	runs := map[enumspb.WorkflowExecutionStatus][]string{}
	require.Eventually(t, func() bool {
		resp, err := b.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil || len(resp.Executions) < want {
			return false
		}
		clear(runs)
		for _, e := range resp.Executions {
			if e.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return false
			}
			runs[e.Status] = append(runs[e.Status], e.Execution.WorkflowId)
		}
		return true
	}, 4*time.Minute, 500*time.Millisecond, "BridgeArchiveToJSON runs did not all close")
	return runs
}

func (b *bridgeDeployment) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(b.s3, &s3.ListObjectsV2Input{Bucket: aws.String(b.data), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key))
		}
	}
	return out
}

// TestBridgeArchivesToParquetReadByDuckDB: realistic archives and every kind of bad one are
// notified (one of them twice), the notification poll starts one run per record, the bad ones
// are refused or reported with nothing written, and the Parquet conversion's tables are read
// back by DuckDB with the rows stage 1 wrote, once each, even after a redelivery.
func TestBridgeArchivesToParquetReadByDuckDB(t *testing.T) {
	b := newBridgeDeployment(t)
	b.startWorker()
	spec := func(n int) bridgedata.Spec {
		return bridgedata.Spec{RecordID: fmt.Sprintf("%s-e2e%d", bridgedata.RecordID(n), b.stamp)}
	}
	var good []string
	for n := 0; n < 4; n++ {
		key := b.upload(t, bridgedata.Good(spec(n)))
		good = append(good, key)
		b.notify(t, key)
	}
	b.notify(t, good[0]) // delivered twice
	bad := map[string]bridgedata.Archive{
		activities.ErrBridgeMalformedArchive: bridgedata.Truncated(spec(10)),
		activities.ErrBridgeUnsafeArchive:    bridgedata.ZipSlip(spec(11)),
		activities.ErrBridgeArchiveTooLarge:  bridgedata.Bomb(spec(12), 64<<20),
		activities.ErrBridgeMalformedJSON:    bridgedata.MalformedJSON(spec(13)),
	}
	for _, a := range bad {
		b.notify(t, b.upload(t, a))
	}
	invalid, unknown := bridgedata.FailsSchema(spec(14)), bridgedata.UnknownAssessment(spec(15))
	b.notify(t, b.upload(t, invalid))
	b.notify(t, b.upload(t, unknown))

	out := b.trigger(t, "bridge-notifications")
	assert.Contains(t, out, "notifications 11, archives started 10, already started 1", out)
	runs := b.archiveRuns(t, 10)
	assert.Len(t, runs[enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED], 6, "4 good, 1 invalid, 1 with unmapped files: %v", runs)
	assert.Len(t, runs[enumspb.WORKFLOW_EXECUTION_STATUS_FAILED], 4, "the refused archives: %v", runs)

	ctx := waitCtx(t, 5*time.Minute)
	for errType, a := range bad {
		id := a.Spec.RecordID
		err := b.client.GetWorkflow(ctx, workflows.BridgeArchiveWorkflowID(id), "").Get(ctx, nil)
		require.Error(t, err, errType)
		assert.Contains(t, err.Error(), errType)
		for _, k := range b.keys(t, bridge.RawJSONPrefix) {
			if strings.Contains(k, id) {
				assert.Equal(t, bridge.RefusedMarkerKey(id), k, "nothing but the refusal is written for a refused archive")
			}
		}
	}
	var res activities.ArchiveToJSONResult
	require.NoError(t, b.client.GetWorkflow(ctx, workflows.BridgeArchiveWorkflowID(unknown.Spec.RecordID), "").Get(ctx, &res))
	assert.NotEmpty(t, res.Unmapped, "an unknown assessment's files are reported, not dropped silently")
	msgs, err := b.sqs.Receive(ctx, b.invalidURL, 10, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "the invalid record goes to the invalid queue")
	var invalidMsg struct {
		ValidationResult struct {
			RecordID string                     `json:"recordId"`
			Errors   map[string]json.RawMessage `json:"errors"`
		} `json:"validation_result"`
	}
	require.NoError(t, json.Unmarshal([]byte(msgs[0].Body), &invalidMsg))
	assert.Equal(t, invalid.Spec.RecordID, invalidMsg.ValidationResult.RecordID)
	assert.NotEmpty(t, invalidMsg.ValidationResult.Errors)

	// What stage 1 wrote, per dataset: the lines (root rows) and records.
	lines, records := map[string]int{}, map[string]map[string]bool{}
	for _, id := range append(specIDs(spec, 0, 1, 2, 3), unknown.Spec.RecordID) {
		var r activities.ArchiveToJSONResult
		require.NoError(t, b.client.GetWorkflow(ctx, workflows.BridgeArchiveWorkflowID(id), "").Get(ctx, &r))
		for _, w := range r.Datasets {
			lines[w.Dataset] += w.Lines
			if records[w.Dataset] == nil {
				records[w.Dataset] = map[string]bool{}
			}
			records[w.Dataset][id] = true
		}
	}
	require.NotEmpty(t, lines)

	out = b.trigger(t, "bridge-parquet")
	assert.Contains(t, out, fmt.Sprintf("succeeded %d, failed 0", len(lines)), out)
	checkTables := func() {
		t.Helper()
		var queries []string
		for ds := range lines {
			queries = append(queries, fmt.Sprintf(`SELECT '%s' AS dataset, count(*) AS rows, count(DISTINCT recordid) AS records FROM %s`, ds, bridge.TableName(ds)))
		}
		got := duckdb.ReadS3(t, b.s3, b.data, bridge.ParquetPrefix, queries...)
		for _, q := range got.Queries {
			row := q.Maps()[0]
			ds := row["dataset"].(string)
			assert.EqualValues(t, lines[ds], row["rows"], "%s: rows in Parquet = lines stage 1 wrote", ds)
			assert.EqualValues(t, len(records[ds]), row["records"], "%s: every record once", ds)
		}
		for ds := range lines {
			tbl, ok := got.Tables[bridge.TableName(ds)]
			require.True(t, ok, "DuckDB finds table %s among %v", bridge.TableName(ds), keysOf(got.Tables))
			for _, col := range []string{"recordid", "assessmentid", "year", "month", "day"} {
				assert.Contains(t, tbl.ColumnNames(), col, bridge.TableName(ds))
			}
		}
		t.Logf("DuckDB %s read %d tables: %v", got.Version, len(got.Tables), summarize(got.Tables))
	}
	checkTables()

	// A redelivered notification starts nothing, and converting again duplicates nothing.
	b.notify(t, good[1])
	out = b.trigger(t, "bridge-notifications")
	assert.Contains(t, out, "archives started 0, already started 1", out)
	out = b.trigger(t, "bridge-parquet")
	assert.Contains(t, out, "failed 0", out)
	checkTables()
}

func specIDs(spec func(int) bridgedata.Spec, ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, spec(n).RecordID)
	}
	return out
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func summarize(tables map[string]duckdb.Table) map[string]int64 {
	out := map[string]int64{}
	for name, tbl := range tables {
		out[name] = tbl.Rows
	}
	return out
}

// TestBridgeConversionKilledMidWayDuplicatesNothing: the worker converting a dataset is
// SIGKILLed while it uploads Parquet parts; the retry on another worker converts the partition
// again over the same files, and DuckDB reads each row once.
func TestBridgeConversionKilledMidWayDuplicatesNothing(t *testing.T) {
	b := newBridgeDeployment(t)
	b.env = append(b.env, "OPSFLOW_BRIDGE_MAX_MIB=1024") // a large record, no bomb here
	first := b.startWorkerNamed("worker-stage1")
	a := bridgedata.Good(bridgedata.Spec{RecordID: fmt.Sprintf("%s-kill%d", bridgedata.RecordID(99), b.stamp), MotionSamples: 150000})
	b.notify(t, b.upload(t, a))
	b.trigger(t, "bridge-notifications")
	b.archiveRuns(t, 1)
	ctx := waitCtx(t, 10*time.Minute)
	var res activities.ArchiveToJSONResult
	require.NoError(t, b.client.GetWorkflow(ctx, workflows.BridgeArchiveWorkflowID(a.Spec.RecordID), "").Get(ctx, &res))
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()

	// The converting worker reaches S3 through a thin uplink, so the kill lands mid-upload.
	thin := faults.In(t, s3test.Config().Endpoint)
	thin.LimitUpload(256)
	slow := b.startWorkerNamed("worker-killed", "OPSFLOW_S3_ENDPOINT="+thin.URL)
	trigger := b.starterAsync("schedules", "trigger", "bridge-parquet", "--wait", "--timeout", "10m")
	// The motion dataset (150 000 samples) is the long one; the others may finish first.
	motionConverted := bridge.ParquetPrefix + "_converted/dataset=MotionRecord_v1/"
	// Killed between the conversion's pending list (written before its parts) and its manifest
	// (written after them): mid-conversion, with parts of this attempt possibly uploaded.
	require.Eventually(t, func() bool {
		for _, k := range b.keys(t, motionConverted) {
			if strings.HasSuffix(k, "/pending.json") {
				return true
			}
		}
		return false
	}, 5*time.Minute, 50*time.Millisecond, "the motion conversion never started writing")
	require.NoError(t, slow.Process.Kill())
	manifests := 0
	for _, k := range b.keys(t, motionConverted) {
		if strings.HasSuffix(k, "/manifest.json") {
			manifests++
		}
	}
	assert.Zero(t, manifests, "the kill landed after the motion conversion finished, not mid-conversion")
	b.startWorkerNamed("worker-resumed")
	out, err := trigger()
	require.NoError(t, err, out)
	assert.Contains(t, out, "failed 0", out)

	var queries []string
	for _, w := range res.Datasets {
		queries = append(queries, fmt.Sprintf(`SELECT '%s' AS dataset, count(*) AS rows FROM %s`, w.Dataset, bridge.TableName(w.Dataset)))
	}
	got := duckdb.ReadS3(t, b.s3, b.data, bridge.ParquetPrefix, queries...)
	for i, q := range got.Queries {
		assert.EqualValues(t, res.Datasets[i].Lines, q.Maps()[0]["rows"], "%s: each line once after the kill", res.Datasets[i].Dataset)
	}
}
