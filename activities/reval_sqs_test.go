package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// gmcBodies are the recommendation service's messages for doctors from..to-1 of a population.
func gmcBodies(t *testing.T, seed uint64, from, to int) []string {
	t.Helper()
	var out []string
	for i := from; i < to; i++ {
		b, err := json.Marshal(reval.IndexSyncMessage{Payload: ptrTo(viaJSON[reval.RevalidationSummary](t, revalsim.Generate(seed, i).GMC))})
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

func syncEndBody(count int64) string {
	return fmt.Sprintf(`{"payload":null,"syncEnd":true,"count":%d}`, count)
}

// tcsBuild indexes TCS's documents for doctors 0..n-1, as the syncData phase leaves them.
func tcsBuild(t *testing.T, s revalServers, index string, seed uint64, n int) {
	t.Helper()
	var docs []esclient.Doc
	for i := range n {
		c := revalsim.Generate(seed, i).Connection
		docs = append(docs, esclient.Doc{ID: reval.DocID(c.TCSPersonID), Source: reval.ConnectionDoc(viaJSON[reval.ConnectionInfo](t, c))})
	}
	_, err := s.es.BulkIndex(context.Background(), index, docs, esclient.WithRefresh())
	require.NoError(t, err)
}

// receiveAll receives n messages and does not delete them: a receiver that crashed holding them.
func receiveAll(t *testing.T, s revalServers, url string, n int) []sqsclient.Message {
	t.Helper()
	var got []sqsclient.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		msgs, err := s.sqs.Receive(context.Background(), url, min(sqsclient.MaxBatch, n-len(got)), time.Second)
		require.NoError(t, err)
		got = append(got, msgs...)
	}
	require.Len(t, got, n)
	return got
}

func queueEmpty(t *testing.T, s revalServers, url string) {
	t.Helper()
	visible, inFlight, err := s.sqs.ApproximateCount(context.Background(), url)
	require.NoError(t, err)
	assert.Zero(t, visible+inFlight, "every message was deleted")
}

func TestIngestGMCClearDeletesAnEarlierRunsMessagesAndDatesTheClearOnTheQueuesClock(t *testing.T) {
	s := startReval(t)
	ctx := context.Background()
	name, url := gmcQueue(t, s)
	require.NoError(t, s.sqs.Send(ctx, url, append(gmcBodies(t, 5, 0, 30), syncEndBody(5))...))

	env := activityEnv()
	ing := &SQSActivities{SQS: s.sqs, Sink: s.es, Receivers: 4}
	env.RegisterActivity(ing)
	before := time.Now().Truncate(time.Millisecond)
	v, err := env.ExecuteActivity(ing.ClearGMCQueue, ClearGMCInput{Queue: name})
	require.NoError(t, err)
	var res GMCClearResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, int64(31), res.Cleared, "30 summaries and the syncEnd of the earlier run; the clear's marker is not counted")
	assert.False(t, res.NotBefore.Before(before), "NotBefore %s is the marker's SentTimestamp, sent after %s", res.NotBefore, before)
	assert.False(t, res.NotBefore.After(time.Now()))
	queueEmpty(t, s, url)

	// An empty queue: nothing to clear, the clear still dates itself.
	v, err = env.ExecuteActivity(ing.ClearGMCQueue, ClearGMCInput{Queue: name})
	require.NoError(t, err)
	var again GMCClearResult
	require.NoError(t, v.Get(&again))
	assert.Zero(t, again.Cleared)
	assert.False(t, again.NotBefore.Before(res.NotBefore))
	queueEmpty(t, s, url)
}

// The aborted run's leftovers: messages a crashed receiver held in flight while the queue was
// cleared (so the clear could not see them) come back during the next run's GMC phase,
// together with a syncEnd announcing a smaller, wrong count. The phase deletes them unread,
// counts them as stale, and ends on the real producer's answer with exact counts.
func TestIngestGMCDropsAnEarlierRunsMessagesAndEndsOnItsOwnSyncEnd(t *testing.T) {
	s := startReval(t)
	ctx := context.Background()
	index := s.newIndex(t)
	const seed, tcsN, gmcOnly = 21, 300, 20
	tcsBuild(t, s, index, seed, tcsN)
	name, url := gmcQueue(t, s)
	require.NoError(t, s.sqs.SetVisibilityTimeout(ctx, url, 2*time.Second))

	// The earlier run: doctors this population does not have (they would become gmc-<n>
	// documents) and a syncEnd announcing 10. A crashed receiver holds all of them.
	stale := append(gmcBodies(t, 99, 1000, 1040), syncEndBody(10))
	require.NoError(t, s.sqs.Send(ctx, url, stale...))
	held := receiveAll(t, s, url, len(stale))
	heldAt := time.Now()
	// And what it left visible: the clear deletes those.
	require.NoError(t, s.sqs.Send(ctx, url, append(gmcBodies(t, 99, 2000, 2015), syncEndBody(7))...))

	env := activityEnv()
	ing := &SQSActivities{SQS: s.sqs, Sink: s.es, Receivers: 4}
	env.RegisterActivity(ing)
	env.RegisterActivity(&RabbitActivities{Dial: s.dial})
	v, err := env.ExecuteActivity(ing.ClearGMCQueue, ClearGMCInput{Queue: name})
	require.NoError(t, err)
	var cleared GMCClearResult
	require.NoError(t, v.Get(&cleared))
	assert.Equal(t, int64(16), cleared.Cleared, "only the visible leftovers; the held ones were in flight")

	// The held messages are visible again before this run's answer starts.
	time.Sleep(time.Until(heldAt.Add(2500 * time.Millisecond)))
	for _, m := range held {
		assert.True(t, m.SentAt.Before(cleared.NotBefore), "held message sent at %s, the clear at %s", m.SentAt, cleared.NotBefore)
	}

	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	rec := &revalsim.Recommendation{AMQP: s.conn, SQS: s.sqs, QueueURL: url, Doctors: tcsN, GMCOnly: gmcOnly, Seed: seed, Senders: 2}
	go func() { _ = rec.Run(simCtx) }()

	type outcome struct {
		res IngestResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		v, err := env.ExecuteActivity(ing.IngestGMC, IngestInput{Index: index, Queue: name, IdleTimeout: 30 * time.Second,
			Quiet: time.Second, NotBefore: cleared.NotBefore})
		var o outcome
		o.err = err
		if err == nil {
			o.err = v.Get(&o.res)
		}
		done <- o
	}()
	// The receivers meet the earlier run's messages first; then the producer answers.
	time.Sleep(time.Second)
	_, err = env.ExecuteActivity((&RabbitActivities{}).PublishRevalCommand, CommandInput{RoutingKey: reval.GMCSyncStartKey, Command: reval.GMCSyncStartCommand})
	require.NoError(t, err)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the GMC phase did not end")
	}
	require.NoError(t, o.err)
	res := o.res
	assert.Equal(t, int64(tcsN+gmcOnly), res.Announced, "the producer's count, not the earlier run's 10")
	assert.Equal(t, int64(tcsN+gmcOnly), res.Docs, "every doctor of this run carries GMC data")
	assert.Equal(t, int64(tcsN+gmcOnly), res.Messages)
	assert.Equal(t, int64(gmcOnly), res.Created, "no document for the earlier run's doctors")
	assert.Equal(t, int64(len(stale)), res.Stale, "the held messages were dropped unread")
	assert.Equal(t, int32(1), rec.Answered.Load())

	require.NoError(t, s.es.Refresh(ctx, index))
	total, err := s.es.Count(ctx, index)
	require.NoError(t, err)
	assert.Equal(t, int64(tcsN+gmcOnly), total)
	n, err := s.es.CountQuery(ctx, index, map[string]any{"ids": map[string]any{"values": []string{reval.GMCOnlyDocID("1001000")}}})
	require.NoError(t, err)
	assert.Zero(t, n, "a stale summary never reaches the build")
	queueEmpty(t, s, url)
}

// A retried gmcSyncStart answered twice: two syncEnds (one arriving before most doctors) and
// doctors sent twice, so the message count reaches the announced count long before the
// doctors are all stored. The phase ends only once every announced doctor is stored, and
// deletes both syncEnds. A further syncEnd announcing fewer cannot lower the bar.
func TestIngestGMCADuplicateSyncEndDoesNotEndThePhaseBeforeTheAnnouncedCountIsStored(t *testing.T) {
	s := startReval(t)
	ctx := context.Background()
	index := s.newIndex(t)
	const seed, n = 31, 200
	tcsBuild(t, s, index, seed, n)
	name, url := gmcQueue(t, s)

	env := activityEnv()
	ing := &SQSActivities{SQS: s.sqs, Sink: s.es, Receivers: 4}
	env.RegisterActivity(ing)
	v, err := env.ExecuteActivity(ing.ClearGMCQueue, ClearGMCInput{Queue: name})
	require.NoError(t, err)
	var cleared GMCClearResult
	require.NoError(t, v.Get(&cleared))

	first := gmcBodies(t, seed, 0, n/2)
	require.NoError(t, s.sqs.Send(ctx, url, syncEndBody(n), syncEndBody(n)))
	require.NoError(t, s.sqs.Send(ctx, url, first...))
	require.NoError(t, s.sqs.Send(ctx, url, first...))
	require.NoError(t, s.sqs.Send(ctx, url, syncEndBody(n/4)))
	late := gmcBodies(t, seed, n/2, n)
	lateSent := make(chan time.Time, 1)
	go func() {
		time.Sleep(3 * time.Second) // far longer than Quiet
		if err := s.sqs.Send(ctx, url, late...); err == nil {
			lateSent <- time.Now()
		}
	}()
	v, err = env.ExecuteActivity(ing.IngestGMC, IngestInput{Index: index, Queue: name, IdleTimeout: 30 * time.Second,
		Quiet: 300 * time.Millisecond, NotBefore: cleared.NotBefore})
	ended := time.Now()
	require.NoError(t, err)
	var res IngestResult
	require.NoError(t, v.Get(&res))
	select {
	case at := <-lateSent:
		assert.True(t, ended.After(at), "the phase ended at %s, before the late doctors were sent at %s", ended, at)
	default:
		t.Fatal("the phase ended before the late doctors were sent")
	}
	assert.Equal(t, int64(n), res.Announced, "the largest announced count")
	assert.Equal(t, int64(n), res.Docs)
	assert.Equal(t, int64(n+n/2), res.Messages, "the duplicates were received and overwrote their documents")
	assert.Zero(t, res.Stale)
	total, err := s.es.Count(ctx, index)
	require.NoError(t, err)
	assert.Equal(t, int64(n), total)
	queueEmpty(t, s, url)
}

func TestIngestGMCStaleRuleComparesMillisecondsOnTheQueuesClock(t *testing.T) {
	notBefore := time.Date(2026, 11, 23, 10, 0, 0, int(1500*time.Microsecond), time.UTC) // 1.5 ms
	at := func(ms int) sqsclient.Message {
		return sqsclient.Message{Body: "{}", SentAt: time.Date(2026, 11, 23, 10, 0, 0, ms*int(time.Millisecond), time.UTC)}
	}
	assert.True(t, staleGMC(at(0), notBefore), "sent a millisecond before the clear")
	assert.False(t, staleGMC(at(1), notBefore), "the clear's own millisecond is this run's")
	assert.False(t, staleGMC(at(2), notBefore))
	assert.False(t, staleGMC(sqsclient.Message{Body: "{}"}, notBefore), "undated: kept")
	assert.False(t, staleGMC(at(0), time.Time{}), "no NotBefore (a run from before the clear): kept")
	assert.True(t, staleGMC(sqsclient.Message{Body: gmcMarkerPrefix + `"x"}`, SentAt: at(5).SentAt}, notBefore), "a clear's marker is never a message")
}

// A syncEnd that announces more doctors than were sent: the held syncEnd comes back after
// every visibility timeout (2s here), which is not news, so the phase still goes idle and
// fails with SyncIncomplete after IdleTimeout (6s) instead of waiting for the time limit.
func TestIngestGMCAnnouncedCountNeverReachedFailsAfterTheIdleTimeout(t *testing.T) {
	s := startReval(t)
	ctx := context.Background()
	index := s.newIndex(t)
	const seed, n = 41, 30
	tcsBuild(t, s, index, seed, n)
	name, url := gmcQueue(t, s)
	require.NoError(t, s.sqs.SetVisibilityTimeout(ctx, url, 2*time.Second))

	env := activityEnv()
	ing := &SQSActivities{SQS: s.sqs, Sink: s.es, Receivers: 2}
	env.RegisterActivity(ing)
	v, err := env.ExecuteActivity(ing.ClearGMCQueue, ClearGMCInput{Queue: name})
	require.NoError(t, err)
	var cleared GMCClearResult
	require.NoError(t, v.Get(&cleared))
	require.NoError(t, s.sqs.Send(ctx, url, append(gmcBodies(t, seed, 0, 3), syncEndBody(10))...))

	_, err = env.ExecuteActivity(ing.IngestGMC, IngestInput{Index: index, Queue: name, IdleTimeout: 6 * time.Second,
		Quiet: 300 * time.Millisecond, NotBefore: cleared.NotBefore})
	app := requireAppError(t, err, ErrSyncIncomplete)
	assert.Contains(t, app.Error(), "announced 10 doctors, 3 stored")
}
