//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/faults"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
	"github.com/opsflow/opsflow/internal/watchers"
)

// moversDeployment is a deployment whose worker runs the three watchers: a directory LIMS
// queue, an export area, and the schedules applied from a file that never fires on its own
// during a test (the tests trigger every scan).
type moversDeployment struct {
	*deployment
	queueDir, exportDir, durable string
	s3                           *s3.Client
	items                        int
	// stamp makes package names unique per test run: child workflow ids (the names' hashes)
	// are unique in the namespace, and completed runs stay there for its retention period.
	stamp int64
}

func newMoversDeployment(t *testing.T) *moversDeployment {
	d := newDeployment(t)
	m := &moversDeployment{deployment: d, queueDir: filepath.Join(d.dir, "lims-queue"),
		exportDir: filepath.Join(d.dir, "nsc-export"), durable: filepath.Join(d.dir, "durable"),
		stamp: time.Now().UnixNano() % 1000000000}
	require.NoError(t, os.MkdirAll(filepath.Join(m.queueDir, "reads"), 0o755))
	schedules := filepath.Join(d.dir, "schedules.json")
	var entries []watchers.Schedule
	for _, w := range watchers.All {
		entries = append(entries, watchers.Schedule{Watcher: w.Name, Cron: "0 0 1 1 *", Note: "e2e: triggered by the test"})
	}
	data, err := json.Marshal(entries)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(schedules, data, 0o600))
	d.env = append(d.env, "OPSFLOW_LIMS_QUEUE_DIR="+m.queueDir, "OPSFLOW_EXPORT_DIR="+m.exportDir,
		"OPSFLOW_EXPORT_SETTLE=1s", "OPSFLOW_UPLOAD_PART_MIB=5", "OPSFLOW_SCHEDULES_FILE="+schedules)
	m.s3, err = s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	t.Cleanup(func() { // schedules outlive the test otherwise
		for _, w := range watchers.All {
			_ = d.client.ScheduleClient().GetHandle(context.Background(), watchers.ScheduleID(w.Name, d.environment)).Delete(context.Background())
		}
	})
	return m
}

// queueSample writes a LIMS queue file for sample name with reads of the given sizes (random
// FASTQ-like bytes) and returns the reads' content by file name.
func (m *moversDeployment) queueSample(t *testing.T, name string, sizes ...int) map[string][]byte {
	m.items++
	reads := map[string][]byte{}
	qf := limsexport.QueueFile{Kind: samplepkg.KindSample, Sample: &limsexport.SampleDoc{Name: name, SampleID: name,
		Project: "Diag-e2e", Flowcell: "A", FlowcellID: "HE2E", Lane: 1}}
	for i, size := range sizes {
		file := fmt.Sprintf("%s_R%d.fastq", name, i+1)
		body := make([]byte, size)
		_, err := rand.Read(body)
		require.NoError(t, err)
		copy(body, "@read\n")
		require.NoError(t, os.WriteFile(filepath.Join(m.queueDir, "reads", file), body, 0o644))
		reads[file] = body
		qf.Reads = append(qf.Reads, limsexport.QueueRead{Source: "reads/" + file})
	}
	data, err := json.Marshal(qf)
	require.NoError(t, err)
	// Queue items are named like LIMS ids, never after the sample.
	require.NoError(t, os.WriteFile(filepath.Join(m.queueDir, fmt.Sprintf("item-%04d.json", m.items)), data, 0o644))
	return reads
}

func (m *moversDeployment) trigger(t *testing.T, watcher string) (string, error) {
	t.Helper()
	return m.starter("schedules", "trigger", watcher, "--wait", "--timeout", "10m")
}

// TestWatchersMovePackagesFromTheLimsQueueToReady: 50 samples with multi-file FASTQ payloads (one
// large enough for a multipart upload) go from the LIMS queue through the three scheduled
// watchers to READY, byte for byte; one object corrupted on the S3 endpoint is quarantined and
// never READY, and the next scan does not try it again.
func TestWatchersMovePackagesFromTheLimsQueueToReady(t *testing.T) {
	m := newMoversDeployment(t)
	m.startWorker()
	const n = 50
	names := make([]string, n)
	reads := map[string]map[string][]byte{}
	for i := range names {
		names[i] = fmt.Sprintf("Diag-e2e%d-%02d-NA%05d", m.stamp, i, i)
		sizes := []int{64 << 10, 48 << 10}
		if i == 0 {
			sizes = []int{11<<20 + 12345, 1 << 10} // three 5 MiB parts
		}
		reads[names[i]] = m.queueSample(t, names[i], sizes...)
	}

	out, err := m.starter("schedules", "apply")
	require.NoError(t, err, out)
	assert.Equal(t, len(watchers.All), strings.Count(out, " created "), out)
	out, err = m.starter("schedules", "apply")
	require.NoError(t, err, out)
	assert.Equal(t, len(watchers.All), strings.Count(out, " updated "), "apply is idempotent: %s", out)
	list := m.temporalCLI("schedule", "list")
	for _, w := range watchers.All {
		assert.Contains(t, list, watchers.ScheduleID(w.Name, m.environment))
	}

	out, err = m.trigger(t, "lims-exporter")
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf("found %d, started %d, succeeded %d, failed 0", n, n, n), out)
	for _, name := range names {
		assert.FileExists(t, filepath.Join(m.exportDir, "samples", name, name+".sample"))
	}
	left, _ := filepath.Glob(filepath.Join(m.queueDir, "*.json"))
	assert.Empty(t, left, "every queue item is marked exported")

	out, err = m.trigger(t, "nsc-exporter")
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf("succeeded %d, failed 0", n), out)

	// One FASTQ is corrupted on the S3 endpoint after its upload: same size, other bytes.
	victim := names[7]
	key := samplepkg.ObjectPrefix(samplepkg.KindSample, victim) + victim + "_R1.fastq"
	bad := bytes.Clone(reads[victim][victim+"_R1.fastq"])
	bad[len(bad)/2] ^= 0xff
	s3test.Put(t, m.s3, m.importBucket, key, bad, nil)

	out, err = m.trigger(t, "filelock-exporter")
	require.Error(t, err, "one package failed verification: %s", out)
	assert.Contains(t, out, fmt.Sprintf("succeeded %d, failed 1", n-1), out)
	for _, name := range names {
		dir := filepath.Join(m.durable, "samples", name)
		if name == victim {
			assert.NoDirExists(t, dir, "a package that failed verification is never published")
			continue
		}
		require.FileExists(t, filepath.Join(dir, samplepkg.ReadyMarker))
		for file, body := range reads[name] {
			got, err := os.ReadFile(filepath.Join(dir, file))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(body, got), "%s/%s differs from the LIMS's read", name, file)
		}
	}
	reports, _ := filepath.Glob(filepath.Join(m.durable, ".quarantine", "samples", "*", "REPORT.json"))
	require.Len(t, reports, 1, "the corrupted package is quarantined with a report")

	out, err = m.trigger(t, "filelock-exporter")
	require.NoError(t, err, "a quarantined package is not tried again: %s", out)
	assert.Contains(t, out, "found 0", out)
	assert.Contains(t, out, "quarantined:1", out)

	// Sample names stay out of what the codec does not cover: the worker's log and the runs'
	// ids and search attributes (the quarantined package failed with its name in the message).
	log, err := os.ReadFile(filepath.Join(m.dir, "worker.log"))
	require.NoError(t, err)
	listed := m.temporalCLI("workflow", "list", "--query", fmt.Sprintf("OpsflowEnvironment = %q", m.environment), "--limit", "500", "--output", "json")
	for _, name := range []string{victim, names[0], names[n-1]} {
		assert.NotContains(t, string(log), name, "the worker log names a sample")
		assert.NotContains(t, listed+payloadData(t, listed), name, "a run's id or search attributes name a sample")
	}

	out, err = m.starter("schedules", "list")
	require.NoError(t, err, out)
	assert.Equal(t, len(watchers.All), strings.Count(out, "active"), out)
	t.Logf("opsflow schedules list:\n%s", out)
}

// TestScheduleTriggeredTwiceAtOnceRunsOnce: two triggers of the same watcher's schedule at the same
// moment start one scan; the overlap policy skips the other.
func TestScheduleTriggeredTwiceAtOnceRunsOnce(t *testing.T) {
	m := newMoversDeployment(t)
	m.startWorker()
	for i := 0; i < 5; i++ {
		m.queueSample(t, fmt.Sprintf("Diag-twice%d-%d-NA1", m.stamp, i), 256<<10)
	}
	out, err := m.starter("schedules", "apply")
	require.NoError(t, err, out)
	id := watchers.ScheduleID("lims-exporter", m.environment)
	done := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func() {
			out, _ := execOut(m.stack.temporalBin, "schedule", "trigger", "--schedule-id", id,
				"--address", m.stack.address, "--namespace", m.stack.namespace)
			done <- out
		}()
	}
	<-done
	<-done
	ctx := waitCtx(t, 5*time.Minute)
	query := fmt.Sprintf(`OpsflowProcedure = "LimsExportScan" AND OpsflowEnvironment = %q`, m.environment)
	var runs []string
	require.Eventually(t, func() bool {
		resp, err := m.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query + ` AND ExecutionStatus = "Completed"`})
		if err != nil || len(resp.Executions) == 0 {
			return false
		}
		runs = runs[:0]
		for _, e := range resp.Executions {
			runs = append(runs, e.Execution.WorkflowId)
		}
		return true
	}, 3*time.Minute, time.Second)
	time.Sleep(3 * time.Second) // a second scan, had one started, would be visible by now
	resp, err := m.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
	require.NoError(t, err)
	assert.Len(t, resp.Executions, 1, "one scan for two triggers: %v", runs)
	desc, err := m.client.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, desc.Info.NumActions, "the schedule took one action for two triggers")
	exported, _ := filepath.Glob(filepath.Join(m.exportDir, "samples", "*", "*.sample"))
	assert.Len(t, exported, 5)
}

// TestUploadResumesAfterTheWorkerIsKilledMidFile: the worker is SIGKILLed while it uploads a
// large file in parts; a second worker resumes the multipart upload from the parts already
// on the S3 endpoint, and the object matches the local file byte for byte.
func TestUploadResumesAfterTheWorkerIsKilledMidFile(t *testing.T) {
	m := newMoversDeployment(t)
	name := fmt.Sprintf("Diag-kill%d-NA1", m.stamp)
	dir := filepath.Join(m.exportDir, "samples", name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	body := make([]byte, 60<<20+777) // twelve 5 MiB parts and a bit
	_, err := rand.Read(body)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+"_R1.fastq"), body, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".sample"), []byte(`{"name":"`+name+`","reads":[]}`), 0o644))

	// The first worker reaches S3 through a thin uplink (toxiproxy, 10 MB/s), so the kill lands
	// mid-file; the second one has the plain connection.
	thin := faults.In(t, s3test.Config().Endpoint)
	thin.LimitUpload(10 * 1024)
	first := m.startWorkerNamed("worker-killed", "OPSFLOW_S3_ENDPOINT="+thin.URL)
	out, err := m.starter("schedules", "apply")
	require.NoError(t, err, out)
	trigger := m.starterAsync("schedules", "trigger", "nsc-exporter", "--wait", "--timeout", "10m")

	key := samplepkg.ObjectPrefix(samplepkg.KindSample, name) + name + "_R1.fastq"
	ctx := waitCtx(t, 10*time.Minute)
	if !assert.Eventually(t, func() bool {
		ups, err := m.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(m.importBucket), Prefix: aws.String(key)})
		if err != nil || len(ups.Uploads) == 0 {
			return false
		}
		parts, err := m.s3.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(m.importBucket), Key: aws.String(key), UploadId: ups.Uploads[0].UploadId})
		return err == nil && len(parts.Parts) >= 2
	}, 3*time.Minute, 100*time.Millisecond, "the upload never got two parts in") {
		t.Logf("runs of this deployment:\n%s", m.temporalCLI("workflow", "list", "--query",
			fmt.Sprintf("OpsflowEnvironment = %q", m.environment)))
		out, err := trigger()
		t.Fatalf("trigger: %v\n%s", err, out)
	}
	require.NoError(t, first.Process.Kill())
	m.startWorkerNamed("worker-resumed")

	out, err = trigger()
	require.NoError(t, err, out)
	assert.Contains(t, out, "succeeded 1, failed 0", out)
	got, err := m.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(m.importBucket), Key: aws.String(key)})
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = buf.ReadFrom(got.Body)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(body, buf.Bytes()), "the resumed object differs from the local file")
	_, err = m.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.importBucket),
		Key: aws.String(samplepkg.ManifestKey(samplepkg.KindSample, name))})
	require.NoError(t, err, "the manifest is written once every file is uploaded")

	// The child that finished the upload sent only what the killed worker had not: it resumed.
	resp, err := m.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf(`OpsflowProcedure = "PackageUpload" AND OpsflowEnvironment = %q`, m.environment)})
	require.NoError(t, err)
	require.Len(t, resp.Executions, 1)
	var res activities.UploadResult
	require.NoError(t, m.client.GetWorkflow(ctx, resp.Executions[0].Execution.WorkflowId, "").Get(ctx, &res))
	assert.Greater(t, res.Sent, int64(0))
	assert.Less(t, res.Sent, int64(len(body)), "the resumed attempt sent the whole file again (%d bytes)", res.Sent)
	t.Logf("file %d bytes; the attempt after the kill sent %d", len(body), res.Sent)
}
