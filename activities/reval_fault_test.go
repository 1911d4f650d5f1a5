package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/testsupport/faults"
)

// OpenSearch behind toxiproxy cuts the connection in the middle of a bulk answer: the bulk
// was carried out, the ingest never saw its answer, the batch stays unacknowledged. The retried
// attempt gets the batch again and overwrites the same documents: exact counts, no duplicates.
func TestIngestConnectionsAfterAConnectionCutMidBulkCountsStayExact(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	s.publish(t, reval.SyncDataKey, connectionBodies(t, 17, 2000)...)
	s.publish(t, reval.SyncDataKey, []byte(`{"syncEnd":true,"count":2000}`))

	proxy := faults.In(t, s.es.URL())
	// A 300-document bulk answer is a few kilobytes gzipped (tens plain): the cut lands in the
	// first or second answer, after OpenSearch stored that bulk.
	proxy.CutResponsesAfter(5_000)
	flaky, err := esclient.New(proxy.URL)
	require.NoError(t, err)
	ing := &RabbitActivities{Dial: s.dial, Sink: flaky, BatchSize: 300}
	env := activityEnv()
	env.RegisterActivity(ing)
	_, err = env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 10 * time.Second})
	require.Error(t, err, "the connection is cut mid-bulk")
	assert.NotEqual(t, ErrBulkRejected, appErrType(t, err), "a cut connection is retryable, unlike a refused document")

	ctx := context.Background()
	require.NoError(t, s.es.Refresh(ctx, index))
	before, err := s.es.Count(ctx, index)
	require.NoError(t, err)
	assert.Greater(t, before, int64(0), "bulks before the cut were stored")
	assert.Less(t, before, int64(2000), "the cut came before the end")

	// The network heals; Temporal retries the activity and the unacknowledged batches return.
	proxy.Heal()
	v, err := env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 10 * time.Second})
	require.NoError(t, err)
	var res IngestResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, int64(2000), res.Docs)
	assert.Equal(t, int64(2000), res.Announced)
	require.NoError(t, s.es.Refresh(ctx, index))
	total, err := s.es.Count(ctx, index)
	require.NoError(t, err)
	assert.Equal(t, int64(2000), total, "the re-sent batches overwrote their documents")
}
