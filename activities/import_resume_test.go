package activities

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/temporalx"
)

// randomBody stands in for a FASTQ: incompressible bytes.
func randomBody(t *testing.T, size int) []byte {
	b := make([]byte, size)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func activityEnvFor(a *ImportActivities) *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

// fetchWithHeartbeatTimeout runs FetchPackage as PackageImport does, under heartbeat timeout hb.
func fetchWithHeartbeatTimeout(ctx workflow.Context, in ImportInput, hb time.Duration) (FetchResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, HeartbeatTimeout: hb,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumAttempts: 4}})
	var res FetchResult
	err := workflow.ExecuteActivity(ctx, "FetchPackage", in).Get(ctx, &res)
	return res, err
}

// importWorker runs a worker for a on the stack's Temporal server, on a queue of its own.
func importWorker(t *testing.T, a *ImportActivities) (client.Client, client.Options, string) {
	cfg := config.DefaultClient()
	if v := os.Getenv("OPSFLOW_TEMPORAL_ADDRESS"); v != "" {
		cfg.Temporal.Address = v
	}
	if v := os.Getenv("OPSFLOW_TEMPORAL_NAMESPACE"); v != "" {
		cfg.Temporal.Namespace = v
	}
	cfg.Codec.KeysFile = os.Getenv("OPSFLOW_CODEC_KEYS_FILE")
	opts, err := temporalx.ClientOptions(cfg, temporalx.NewLogger("error"))
	require.NoError(t, err, "OPSFLOW_CODEC_KEYS_FILE comes from scripts/stack env")
	c, err := client.Dial(opts)
	require.NoError(t, err, "Temporal at %s (scripts/stack up)", cfg.Temporal.Address)
	t.Cleanup(c.Close)
	queue := fmt.Sprintf("test-import-%d", time.Now().UnixNano())
	// Heartbeats leave the worker at most every second (the SDK default is 0.8 × the
	// heartbeat timeout), well inside the 3 s timeout of the test.
	w := worker.New(c, queue, worker.Options{MaxHeartbeatThrottleInterval: time.Second})
	w.RegisterWorkflowWithOptions(fetchWithHeartbeatTimeout, workflow.RegisterOptions{Name: "TestFetchWithHeartbeatTimeout"})
	w.RegisterActivity(a)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return c, opts, queue
}

// TestFetchOfALargeObjectSurvivesAShortHeartbeatTimeoutAndResumes copies one object that
// takes about 5 s to read under a 3 s heartbeat timeout, on the real Temporal and S3
// servers. The first attempt stalls at 8 MiB (a hung transfer) until the server timed it
// out and started a retry; the retry waits for the stalled attempt to stop (it is
// cancelled at its next heartbeat), resumes from the offset the first attempt heartbeated
// and reads less than the object from S3; the staged file is the object byte for byte.
func TestFetchOfALargeObjectSurvivesAShortHeartbeatTimeoutAndResumes(t *testing.T) {
	a, _ := newImport(t)
	const size = 32 << 20
	body := randomBody(t, size)
	plantPackage(t, a, "Diag-big1", map[string]string{"R1.fastq.gz": string(body)}, nil)
	tapped, tp := newTap(t, a, "samples/Diag-big1/R1.fastq.gz")
	tp.perMiB, tp.holdAt = 150*time.Millisecond, 8<<20
	c, opts, queue := importWorker(t, tapped)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue},
		"TestFetchWithHeartbeatTimeout", ImportInput{Package: "Diag-big1"}, 3*time.Second)
	require.NoError(t, err)
	select {
	case <-tp.held:
	case <-ctx.Done():
		t.Fatal("the first attempt never reached 8 MiB")
	}
	// The stalled attempt's last heartbeat carries its progress, with the hash states at that
	// offset; the server retries it.
	var progress fetchProgress
	require.Eventually(t, func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		if err != nil || len(d.PendingActivities) != 1 || d.PendingActivities[0].HeartbeatDetails == nil {
			return false
		}
		return opts.DataConverter.FromPayloads(d.PendingActivities[0].HeartbeatDetails, &progress) == nil &&
			d.PendingActivities[0].Attempt >= 2
	}, 30*time.Second, 100*time.Millisecond, "the stalled attempt is timed out and retried")
	require.Len(t, progress.Objects, 1, "%+v", progress)
	assert.Equal(t, "samples/Diag-big1/R1.fastq.gz", progress.Objects[0].Key)
	assert.GreaterOrEqual(t, progress.Objects[0].Written, int64(4<<20), "heartbeats carry the bytes written")
	assert.Len(t, progress.Objects[0].States, 2, "and the MD5 and SHA-256 states after them")
	assert.Equal(t, bootID(), progress.Boot)
	time.Sleep(time.Second) // the retry now waits for the stalled attempt's lock
	tp.unhold()

	var res FetchResult
	require.NoError(t, run.Get(ctx, &res), "the copy must survive heartbeat timeouts shorter than itself")
	got, err := os.ReadFile(filepath.Join(res.StagingDir, "R1.fastq.gz"))
	require.NoError(t, err)
	assert.True(t, string(got) == string(body), "the staged file is the object byte for byte")
	rec := loadDigests(StagingDigestsFile(res.StagingDir))["R1.fastq.gz"]
	assert.Equal(t, hexSHA256(string(body)), rec.SHA256, "the digests of the resumed copy are the object's")
	assert.Equal(t, hexMD5(string(body)), rec.MD5)
	gets := tp.Gets()
	require.GreaterOrEqual(t, len(gets), 2, "GETs: %+v", gets)
	last := gets[len(gets)-1]
	var from int64
	_, err = fmt.Sscanf(last.rng, "bytes=%d-", &from)
	require.NoError(t, err, "the retry asks for a range: %+v", gets)
	assert.Greater(t, from, int64(0))
	assert.Equal(t, int64(size)-from, last.read)
	assert.Less(t, last.read, int64(size), "the retry read less than the object from S3")
	parts, _ := filepath.Glob(filepath.Join(res.StagingDir, "*.part"))
	assert.Empty(t, parts)
}

// TestFetchTwoAttemptsAtOnceNeverWriteTheSameFile runs two attempts of the fetch of one
// package at once, as after a heartbeat timeout: the second waits while the first writes
// the part file, reads nothing from S3, and finds the object staged once the first is done.
func TestFetchTwoAttemptsAtOnceNeverWriteTheSameFile(t *testing.T) {
	a, _ := newImport(t)
	const size = 12 << 20
	body := randomBody(t, size)
	plantPackage(t, a, "Diag-big2", map[string]string{"R1.fastq.gz": string(body)}, nil)
	first, tp1 := newTap(t, a, "samples/Diag-big2/R1.fastq.gz")
	tp1.holdAt = 4 << 20
	second, tp2 := newTap(t, a, "samples/Diag-big2/R1.fastq.gz")
	in := ImportInput{Package: "Diag-big2"}

	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { _, err := activityEnvFor(first).ExecuteActivity(first.FetchPackage, in); done1 <- err }()
	select {
	case <-tp1.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the first attempt never reached 4 MiB")
	}
	go func() { _, err := activityEnvFor(second).ExecuteActivity(second.FetchPackage, in); done2 <- err }()
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-done2:
		t.Fatalf("the second attempt ended while the first still wrote: %v", err)
	default:
	}
	assert.Empty(t, tp2.Gets(), "the second attempt does not read while the first writes")
	tp1.unhold()
	require.NoError(t, <-done1)
	require.NoError(t, <-done2)
	assert.Empty(t, tp2.Gets(), "the second attempt found the object staged by the first")

	staging := a.layout().StagingDir(samplepkg.ID(a.Hasher, "Diag-big2"))
	got, err := os.ReadFile(filepath.Join(staging, "R1.fastq.gz"))
	require.NoError(t, err)
	assert.True(t, string(got) == string(body), "the staged file is the object byte for byte")
	parts, _ := filepath.Glob(filepath.Join(staging, "*.part"))
	assert.Empty(t, parts)
}

// TestVerifyResumesFromItsHeartbeat: without digests recorded by the fetch, verify hashes the
// files from disk, and the MD5 and SHA-256 states in its heartbeat let a retry hash only the
// rest of the read. The first half on disk is then corrupted: a verification that resumed
// passes, one that starts again finds the mismatch.
func TestVerifyResumesFromItsHeartbeat(t *testing.T) {
	a, env := newImport(t)
	const size, half = 3 << 20, 3 << 19
	body := randomBody(t, size)
	plantPackage(t, a, "Diag-ver1", map[string]string{"R1.fastq.gz": string(body)}, nil)
	in := ImportInput{Package: "Diag-ver1"}
	v, err := env.ExecuteActivity(a.FetchPackage, in)
	require.NoError(t, err)
	var staged FetchResult
	require.NoError(t, v.Get(&staged))
	require.NoError(t, os.Remove(StagingDigestsFile(staged.StagingDir)))

	states := map[string][]byte{}
	for alg, h := range map[string]hash.Hash{checksum.MD5: md5.New(), checksum.SHA256: sha256.New()} {
		h.Write(body[:half])
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		require.NoError(t, err)
		states[alg] = state
	}
	f, err := os.OpenFile(filepath.Join(staged.StagingDir, "R1.fastq.gz"), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(make([]byte, half), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	resumed := activityEnvFor(a)
	require.Equal(t, "R1.fastq.gz", staged.Manifest.Files[1].Path)
	resumed.SetHeartbeatDetails(verifyProgress{File: 1, Hash: checksum.Progress{Offset: half, States: states}})
	_, err = resumed.ExecuteActivity(a.VerifyPackage, in, staged)
	require.NoError(t, err, "resumed after the (corrupted) first half")

	_, err = activityEnvFor(a).ExecuteActivity(a.VerifyPackage, in, staged)
	requireAppError(t, err, ErrChecksumMismatch)
}
