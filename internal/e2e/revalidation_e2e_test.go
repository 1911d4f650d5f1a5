//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/searchtest"
	"github.com/opsflow/opsflow/workflows"
)

// aliasReader polls current_connections every 50 ms for the whole run, the way the
// connection service's UI list reads it, and remembers every failed or empty answer.
type aliasReader struct {
	reads, failures, empties atomic.Int64
	mu                       sync.Mutex
	firstProblem             string
}

func (r *aliasReader) run(ctx context.Context, es *esclient.Client) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := es.Count(ctx, reval.CurrentConnectionsAlias)
		if ctx.Err() != nil {
			return
		}
		r.reads.Add(1)
		problem := ""
		switch {
		case err != nil:
			r.failures.Add(1)
			problem = err.Error()
		case n == 0:
			r.empties.Add(1)
			problem = reval.CurrentConnectionsAlias + " returned 0 documents"
		}
		if problem != "" {
			r.mu.Lock()
			if r.firstProblem == "" {
				r.firstProblem = time.Now().Format(time.RFC3339Nano) + " " + problem
			}
			r.mu.Unlock()
		}
	}
}

// The whole revalidation sync, as an operator runs it: 10 000 generated doctors from the
// TCS simulator (RabbitMQ) and the recommendation simulator (SQS), the worker binary
// against the dev server, started with the opsflow starter. A reader polls
// current_connections every 50 ms throughout; the worker is killed with SIGKILL in the
// middle of syncData and a new one finishes the run.
func TestRevalidationSyncTenThousandDoctorsZeroDowntimeSurvivesSIGKILL(t *testing.T) {
	const doctors, gmcOnly, seed = 10000, 100, 42
	ctx := waitCtx(t, 8*time.Minute)
	d := newDeployment(t)

	es := searchtest.Fresh(t) // also serialises the reval.* queues (revallock)
	esURL := searchtest.URL(t)
	dist, version, err := es.Distribution(ctx)
	require.NoError(t, err)
	t.Logf("search engine: %s %s at %s", dist, version, esURL)
	d.env = append(d.env, "OPSFLOW_ES_URL="+esURL, "OPSFLOW_SQS_VISIBILITY=5s", "OPSFLOW_REVAL_BATCH=250")

	// The live build that serves while the new one is built.
	live := reval.MasterDoctorIndexName(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, es.CreateIndex(ctx, live, reval.MasterDoctorMapping()))
	var docs []esclient.Doc
	for i := range 9800 {
		g := revalsim.Generate(seed+1, i)
		src := reval.ConnectionDoc(convert[reval.ConnectionInfo](t, g.Connection))
		for k, v := range reval.GMCDoc(convert[reval.RevalidationSummary](t, g.GMC)) {
			src[k] = v
		}
		docs = append(docs, esclient.Doc{ID: reval.DocID(g.Connection.TCSPersonID), Source: src})
	}
	_, err = es.BulkIndex(ctx, live, docs, esclient.WithRefresh())
	require.NoError(t, err)
	require.NoError(t, es.SwitchAliases(ctx, reval.AddAliases(live)))

	// The producers.
	amqpURL := os.Getenv("OPSFLOW_AMQP_URL")
	conn, err := amqpx.Dial(amqpURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.Declare(reval.Topology()))
	for _, b := range reval.Topology().Bindings {
		_, err := conn.Purge(b.Queue)
		require.NoError(t, err)
	}
	sqs, err := sqsclient.New(ctx, os.Getenv("OPSFLOW_SQS_ENDPOINT"), "us-east-1")
	require.NoError(t, err)
	queueURL, err := sqs.EnsureQueue(ctx, reval.GMCSyncQueue(d.environment))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqs.DeleteQueue(context.Background(), queueURL) })
	simCtx, stopSims := context.WithCancel(ctx)
	defer stopSims()
	tcs := &revalsim.TCS{Conn: conn, Doctors: doctors, Seed: seed}
	rec := &revalsim.Recommendation{AMQP: conn, SQS: sqs, QueueURL: queueURL, Doctors: doctors, GMCOnly: gmcOnly, Seed: seed}
	go func() { _ = tcs.Run(simCtx) }()
	go func() { _ = rec.Run(simCtx) }()

	reader := &aliasReader{}
	readCtx, stopReader := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); reader.run(readCtx, es) }()

	first := d.startWorkerNamed("worker-1")
	out, err := d.starter("sync", "--heartbeat-timeout", "5s", "--idle-timeout", "2m")
	require.NoError(t, err, out)
	id := workflows.RevalidationSyncWorkflowID(d.environment)
	require.Contains(t, out, id)

	// A second start while the first runs is refused, never queued.
	out, err = d.starter("sync")
	require.Error(t, err, out)
	assert.Contains(t, out, "already running")

	// Kill the worker in the middle of syncData: once the new build holds some doctors.
	var building string
	killedAt := int64(-1)
	for killedAt < 0 {
		require.NoError(t, ctx.Err(), "syncData never started")
		time.Sleep(20 * time.Millisecond)
		idx, err := es.ListIndices(ctx, reval.MasterDoctorIndexPattern)
		require.NoError(t, err)
		for _, ix := range idx {
			if ix.Name != live {
				building = ix.Name
			}
		}
		if building == "" {
			continue
		}
		require.NoError(t, es.Refresh(ctx, building))
		n, err := es.Count(ctx, building)
		require.NoError(t, err)
		if n >= 1000 {
			require.Less(t, n, int64(doctors), "syncData finished before the kill; the test needs a slower ingest")
			require.NoError(t, first.Process.Signal(syscall.SIGKILL))
			_, _ = first.Process.Wait()
			killedAt = n
		}
	}
	t.Logf("worker-1 killed with SIGKILL when %s held %d doctors", building, killedAt)
	d.startWorkerNamed("worker-2")

	run := d.client.GetWorkflow(ctx, id, "")
	var res workflows.RevalidationSyncResult
	require.NoError(t, run.Get(ctx, &res))
	stopReader()
	<-readerDone

	assert.Equal(t, building, res.Index)
	assert.Equal(t, workflows.OutcomeSucceeded, res.Outcome)
	assert.GreaterOrEqual(t, res.Connections.Attempt, int32(2), "the ingest was resumed by another attempt")
	assert.Equal(t, int64(doctors), res.Connections.Docs)
	assert.Equal(t, int64(doctors), res.Connections.Announced)
	assert.Equal(t, int64(doctors+gmcOnly), res.GMC.Docs)
	assert.Equal(t, int64(gmcOnly), res.GMC.Created)
	assert.Equal(t, int64(doctors+gmcOnly), res.Counts.Total)
	assert.Equal(t, []string{live}, res.Previous)
	assert.Empty(t, res.Warnings)

	// Exact: no duplicate document and no duplicate GMC number.
	seen := map[string]bool{}
	ids := 0
	require.NoError(t, es.Scan(ctx, res.Index, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		ids++
		gmc := reval.GMCNumberOf(src)
		assert.False(t, seen[gmc], "duplicate GMC number in the new index")
		seen[gmc] = true
		return nil
	}))
	assert.Equal(t, doctors+gmcOnly, ids)
	for _, alias := range reval.AliasNames {
		idx, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		assert.Equal(t, []string{res.Index}, idx, alias)
	}
	n, err := es.Count(ctx, reval.CurrentConnectionsAlias)
	require.NoError(t, err)
	assert.Equal(t, res.Counts.CurrentConnections, n)

	// Zero downtime, asserted: the reader never saw a missing alias or an empty list.
	assert.Greater(t, reader.reads.Load(), int64(100))
	assert.Zero(t, reader.failures.Load(), "alias reads failed: first %s", reader.firstProblem)
	assert.Zero(t, reader.empties.Load(), "empty current_connections: first %s", reader.firstProblem)
	t.Logf("reader: %d reads of current_connections every 50 ms, %d failures, %d empty", reader.reads.Load(), reader.failures.Load(), reader.empties.Load())

	// Downstream services got the rebuild command; the run is findable by environment.
	for _, q := range []string{reval.IndexRebuildRecommendationQueue, reval.IndexRebuildConnectionQueue} {
		cons, err := conn.Consume(q, 1)
		require.NoError(t, err)
		b, err := cons.Batch(ctx, 1, 5*time.Second)
		require.NoError(t, err, q)
		assert.Equal(t, `"`+reval.GetMasterCommand+`"`, string(b[0].Body))
		require.NoError(t, cons.Ack(b[0]))
		cons.Close()
	}
	list := d.temporalCLI("workflow", "list", "--query",
		fmt.Sprintf(`OpsflowProcedure="RevalidationSync" AND OpsflowEnvironment=%q AND OpsflowOutcome="succeeded"`, d.environment))
	assert.Contains(t, list, id)
	assert.Equal(t, int32(1), tcs.Answered.Load(), "TCS was asked once")
	assert.True(t, strings.HasPrefix(res.Index, reval.MasterDoctorAlias+"-"))

	// Rollback in one command, as an operator types it, under the same 50 ms reader: all four
	// aliases go back to the build that served before, with no moment without them.
	reader = &aliasReader{}
	readCtx, stopReader = context.WithCancel(ctx)
	readerDone = make(chan struct{})
	go func() { defer close(readerDone); reader.run(readCtx, es) }()
	time.Sleep(300 * time.Millisecond)
	out, err = d.starter("sync", "--rollback", "--env", d.environment)
	require.NoError(t, err, out)
	t.Logf("opsflow sync --rollback --env %s printed:\n%s", d.environment, out)
	assert.Contains(t, out, fmt.Sprintf("moved from %s to %s", res.Index, live))
	stopReader()
	<-readerDone
	for _, alias := range reval.AliasNames {
		idx, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		assert.Equal(t, []string{live}, idx, alias)
	}
	kept, err := es.IndexExists(ctx, res.Index)
	require.NoError(t, err)
	assert.True(t, kept, "the build rolled back from is kept")
	assert.Zero(t, reader.failures.Load(), "alias reads failed during the rollback: first %s", reader.firstProblem)
	assert.Zero(t, reader.empties.Load(), "empty current_connections during the rollback: first %s", reader.firstProblem)
	// Nothing older served: a second rollback is refused, naming what keeps serving.
	out, err = d.starter("sync", "--rollback", "--env", d.environment)
	require.Error(t, err, out)
	assert.Contains(t, out, "no previous build that served")
	assert.Contains(t, out, live+" keeps serving")
	t.Logf("a second rollback is refused:\n%s", out)
}

func convert[T any](t *testing.T, v any) T {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
