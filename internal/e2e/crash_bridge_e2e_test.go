//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
	"github.com/opsflow/opsflow/workflows"
)

// The Bridge downstream's kill points, in three rounds (each a scheduled scan triggered by
// the test): the notification poll's drain (after it, the archives' runs are started and
// the messages deleted: a drain again must start nothing twice), one archive to NDJSON
// (inside its download and files, and after them: written again over the same keys), and
// the Parquet conversion (the scan, the dataset's run, its partitions: inside one and after
// one, converted again over the same files; the completeness check).
var (
	bridgeDrainKillPoints   = []string{"before:DrainArchiveNotifications", "after:DrainArchiveNotifications"}
	bridgeArchiveKillPoints = []string{"before:ArchiveToJSON", "mid:ArchiveToJSON", "after:ArchiveToJSON"}
	bridgeParquetKillPoints = []string{
		"before:ListBridgeDatasets", "before:BridgeJSONToParquet", "before:ListStalePartitions",
		"before:ConvertPartition", "mid:ConvertPartition", "after:ConvertPartition",
		"before:CheckCompleteness",
	}
)

// crashBridge takes three archives through the Bridge downstream with the kill points above,
// then checks: every archive's run completed; each record has exactly one NDJSON object per
// dataset, holding the lines its run wrote, each of this record, once; and DuckDB reads from
// the Parquet tables the same rows, each record once.
func crashBridge(t *testing.T, m *crashMatrix) {
	b := newBridgeDeployment(t)
	r := m.newRun(t, b.deployment, "Bridge")
	spec := func(n int) bridgedata.Spec {
		return bridgedata.Spec{RecordID: fmt.Sprintf("%s-crash%d", bridgedata.RecordID(n), b.stamp), MotionSamples: 4000}
	}
	round := func(watcher string, points []string, last bool) string {
		done := b.starterAsync("schedules", "trigger", watcher, "--wait", "--timeout", "10m")
		r.killThrough("", points...)
		w := b.startWorkerNamed(fmt.Sprintf("worker-after-%s", watcher))
		out, err := done()
		require.NoError(t, err, "%s after its crashes: %s", watcher, out)
		if !last {
			crashStopWorker(t, w)
		}
		return out
	}

	var records []string
	for n := 0; n < 2; n++ {
		key := b.upload(t, bridgedata.Good(spec(n)))
		b.notify(t, key)
		records = append(records, spec(n).RecordID)
	}
	round("bridge-notifications", bridgeDrainKillPoints, false)
	b.archiveRuns(t, 2)
	key := b.upload(t, bridgedata.Good(spec(2)))
	b.notify(t, key)
	records = append(records, spec(2).RecordID)
	round("bridge-notifications", bridgeArchiveKillPoints, false)
	runs := b.archiveRuns(t, 3)
	assert.Len(t, runs[enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED], 3, "every archive's run completed: %v", runs)
	r.check("every archive's run completed")

	out := round("bridge-parquet", bridgeParquetKillPoints, true)
	assert.Contains(t, out, "failed 0", out)
	r.measure()

	ctx := waitCtx(t, 5*time.Minute)
	lines, recs := map[string]int{}, map[string]map[string]bool{}
	for _, id := range records {
		var res activities.ArchiveToJSONResult
		require.NoError(t, b.client.GetWorkflow(ctx, workflows.BridgeArchiveWorkflowID(id), "").Get(ctx, &res))
		require.NotEmpty(t, res.Datasets, id)
		var want []string
		for _, w := range res.Datasets {
			want = append(want, w.Key)
			assert.Equal(t, w.Lines, crashNDJSONLines(t, b.s3, b.data, w.Key, id), "%s: the lines of its run, once", w.Key)
			lines[w.Dataset] += w.Lines
			if recs[w.Dataset] == nil {
				recs[w.Dataset] = map[string]bool{}
			}
			recs[w.Dataset][id] = true
		}
		var got []string
		for _, k := range b.keys(t, bridge.RawJSONPrefix) {
			if strings.Contains(k, id) && !strings.HasPrefix(k, bridge.RecordMarkerPrefix) {
				got = append(got, k)
			}
		}
		assert.ElementsMatch(t, want, got, "record %s: one NDJSON object per dataset", id)
	}
	r.check("one NDJSON object per record and dataset, with its run's lines, each once")

	var queries []string
	for ds := range lines {
		queries = append(queries, fmt.Sprintf(`SELECT '%s' AS dataset, count(*) AS rows, count(DISTINCT recordid) AS records FROM %s`, ds, bridge.TableName(ds)))
	}
	got := duckdb.ReadS3(t, b.s3, b.data, bridge.ParquetPrefix, queries...)
	for _, q := range got.Queries {
		row := q.Maps()[0]
		ds := row["dataset"].(string)
		assert.EqualValues(t, lines[ds], row["rows"], "%s: rows in Parquet = lines the archives' runs wrote", ds)
		assert.EqualValues(t, len(recs[ds]), row["records"], "%s: every record", ds)
	}
	r.check("DuckDB reads every NDJSON line once from the Parquet tables (%d datasets), every record", len(lines))
}

// crashNDJSONLines counts the lines of an NDJSON object, each of which must be record id's.
func crashNDJSONLines(t *testing.T, c *s3.Client, bucket, key, id string) int {
	t.Helper()
	obj, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err, key)
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	require.NoError(t, err)
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var row map[string]any
		require.NoError(t, json.Unmarshal(line, &row), "%s line %d", key, n+1)
		assert.Equal(t, id, row["recordid"], "%s line %d", key, n+1)
		n++
	}
	return n
}

// crashStopWorker stops a normal worker between two rounds (SIGTERM, as an operator would),
// so the next round's crash workers are the only ones polling.
func crashStopWorker(t *testing.T, w *exec.Cmd) {
	t.Helper()
	require.NoError(t, w.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	select {
	case <-done:
	case <-time.After(45 * time.Second):
		t.Fatalf("worker %d did not stop within 45 s of SIGTERM", w.Process.Pid)
	}
}
