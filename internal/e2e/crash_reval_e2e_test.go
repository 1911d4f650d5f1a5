//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
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

// revalKillPoints is a revalidation sync killed at every step boundary, inside both ingests
// (they resume from their heartbeated counts; the brokers re-deliver what was not
// acknowledged), and after the steps whose repeat could duplicate or lose something: the
// new index created, syncStart published (TCS then answers twice), the aliases switched.
// After either ingest is left out: it fails today (crashExcluded).
// PublishRevalCommand is syncStart (#1), gmcSyncStart (#2) and the rebuild command (#3).
var revalKillPoints = []string{
	"before:CreateSyncIndex", "after:CreateSyncIndex",
	"before:ClearSyncData",
	"before:PublishRevalCommand", "after:PublishRevalCommand",
	"before:IngestConnections", "mid:IngestConnections",
	"before:ClearGMCQueue",
	"before:PublishRevalCommand#2",
	"before:IngestGMC", "mid:IngestGMC",
	"before:CheckSyncIndex",
	"before:SwitchRevalAliases", "after:SwitchRevalAliases",
	"before:PublishRevalCommand#3",
	"before:CleanupSyncIndexes",
}

// crashRevalidationSync syncs 2 000 generated doctors (TCS on RabbitMQ, recommendations on
// SQS, 20 known only to GMC) into a new index while a previous build serves, through
// revalKillPoints, then checks: the run completed, every alias on exactly the new index,
// one document per doctor (no duplicate id or GMC number), the counts the producers announced.
func crashRevalidationSync(t *testing.T, m *crashMatrix) {
	const doctors, gmcOnly, seed = 2000, 20, 7
	ctx := waitCtx(t, 15*time.Minute)
	d := newDeployment(t)
	r := m.newRun(t, d, "RevalidationSync")
	es := searchtest.Fresh(t) // also serialises the reval.* queues with the other sync tests
	d.env = append(d.env, "OPSFLOW_ES_URL="+searchtest.URL(t), "OPSFLOW_SQS_VISIBILITY=5s", "OPSFLOW_REVAL_BATCH=100")

	live := reval.MasterDoctorIndexName(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, es.CreateIndex(ctx, live, reval.MasterDoctorMapping()))
	var docs []esclient.Doc
	for i := range doctors - 100 {
		g := revalsim.Generate(seed+1, i)
		src := reval.ConnectionDoc(convert[reval.ConnectionInfo](t, g.Connection))
		for k, v := range reval.GMCDoc(convert[reval.RevalidationSummary](t, g.GMC)) {
			src[k] = v
		}
		docs = append(docs, esclient.Doc{ID: reval.DocID(g.Connection.TCSPersonID), Source: src})
	}
	_, err := es.BulkIndex(ctx, live, docs, esclient.WithRefresh())
	require.NoError(t, err)
	require.NoError(t, es.SwitchAliases(ctx, reval.AddAliases(live)))

	conn, err := amqpx.Dial(os.Getenv("OPSFLOW_AMQP_URL"))
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

	out, err := d.starter("sync", "--heartbeat-timeout", "5s", "--idle-timeout", "45s")
	require.NoError(t, err, out)
	id := workflows.RevalidationSyncWorkflowID(d.environment)
	r.crashThrough(id, revalKillPoints...)

	var res workflows.RevalidationSyncResult
	require.NoError(t, d.client.GetWorkflow(ctx, id, "").Get(ctx, &res), "the sync completes after its crashes")
	r.measure()
	assert.Equal(t, workflows.OutcomeSucceeded, res.Outcome)
	assert.Empty(t, res.Warnings)
	r.check("run completed")
	for _, alias := range reval.AliasNames {
		idx, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		assert.Equal(t, []string{res.Index}, idx, "%s on the new index only", alias)
	}
	r.check("every alias on exactly the new index")

	ids, seen := 0, map[string]bool{}
	require.NoError(t, es.Refresh(ctx, res.Index))
	require.NoError(t, es.Scan(ctx, res.Index, []string{"gmcReferenceNumber"}, 5000, func(_ string, src json.RawMessage) error {
		ids++
		gmc := reval.GMCNumberOf(src)
		assert.False(t, seen[gmc], "GMC number %s twice in the new index", gmc)
		seen[gmc] = true
		return nil
	}))
	assert.Equal(t, doctors+gmcOnly, ids, "one document per doctor")
	assert.Equal(t, int64(doctors), res.Connections.Announced)
	assert.Equal(t, int64(doctors), res.Connections.Docs)
	assert.Equal(t, int64(doctors+gmcOnly), res.GMC.Docs)
	assert.Equal(t, int64(doctors+gmcOnly), res.Counts.Total)
	n, err := es.Count(ctx, reval.CurrentConnectionsAlias)
	require.NoError(t, err)
	assert.Equal(t, res.Counts.CurrentConnections, n)
	r.check("one document per doctor (%d: no duplicate id or GMC number), the announced counts", doctors+gmcOnly)
}
