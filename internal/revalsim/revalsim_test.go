package revalsim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/revallock"
)

// These tests run against the dev stack's real RabbitMQ and real local SQS server, never
// fakes: `eval "$(scripts/stack env)"` (make test-unit does it) sets their addresses.

// dialAMQP connects to the stack's RabbitMQ and takes the reval queue lock: the
// reval.queue.* names are fixed, and other packages' tests use them too.
func dialAMQP(t *testing.T) *amqpx.Conn {
	t.Helper()
	u := os.Getenv("OPSFLOW_AMQP_URL")
	if u == "" {
		t.Fatal(`OPSFLOW_AMQP_URL is unset: these tests need the dev stack's RabbitMQ; run scripts/stack up, then eval "$(scripts/stack env)" (make test-unit does both)`)
	}
	revallock.Lock(t)
	conn, err := amqpx.Dial(u)
	require.NoError(t, err, "RabbitMQ must run (scripts/stack up)")
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.Declare(reval.Topology()))
	return conn
}

// newSQSQueue creates an SQS queue unique to this test on the stack's local SQS server,
// deleted when the test ends.
func newSQSQueue(t *testing.T) (*sqsclient.Client, string) {
	t.Helper()
	ep := os.Getenv("OPSFLOW_SQS_ENDPOINT")
	if ep == "" {
		t.Fatal(`OPSFLOW_SQS_ENDPOINT is unset: these tests need the dev stack's local SQS server; run scripts/stack up, then eval "$(scripts/stack env)" (make test-unit does both)`)
	}
	c, err := sqsclient.New(context.Background(), ep, "")
	require.NoError(t, err)
	name := fmt.Sprintf("opsflow-test-revalsim-%d", time.Now().UnixNano())
	url, err := c.EnsureQueue(context.Background(), name)
	if err != nil {
		t.Fatalf("local SQS server at %s: %v (start it with scripts/stack up)", ep, err)
	}
	t.Cleanup(func() {
		if err := c.DeleteQueue(context.Background(), url); err != nil {
			t.Logf("delete test queue: %v", err)
		}
	})
	return c, url
}

func TestGenerateIsDeterministicAndRealistic(t *testing.T) {
	a, b := Generate(42, 7), Generate(42, 7)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, Generate(43, 7))
	assert.Equal(t, "1000007", a.Connection.GMCReferenceNumber)
	assert.Equal(t, a.Connection.GMCReferenceNumber, a.GMC.Doctor.GMCReferenceNumber, "both sides describe the same doctor")
	assert.Regexp(t, `^1-AIID`, a.Connection.DesignatedBody)
	discrepancies, inGMC := 0, 0
	for i := 0; i < 2000; i++ {
		d := Generate(1, i)
		if d.Connection.DesignatedBody != d.Connection.TCSDesignatedBody {
			discrepancies++
		}
		if d.GMC.Doctor.ExistsInGMC {
			inGMC++
		}
	}
	assert.InDelta(t, 2000/20*7/8, discrepancies, 40, "about 5%% differ (a re-pick can land on the same body)")
	assert.InDelta(t, 1800, inGMC, 60)
}

func TestTCSAnswersSyncStartOnRealRabbitMQ(t *testing.T) {
	conn := dialAMQP(t)
	for _, q := range []string{reval.SyncStartQueue, reval.SyncDataQueue} {
		_, err := conn.Purge(q)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tcs := &TCS{Conn: conn, Doctors: 50, Seed: 9}
	done := make(chan error, 1)
	go func() { done <- tcs.Run(ctx) }()

	pub, err := conn.NewPublisher()
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(ctx, reval.Exchange, reval.SyncStartKey, []byte(`"`+reval.SyncStartCommand+`"`)))

	cons, err := conn.Consume(reval.SyncDataQueue, 100)
	require.NoError(t, err)
	defer cons.Close()
	var doctors []ConnectionInfo
	var end []byte
	for end == nil {
		batch, err := cons.Batch(ctx, 100, 10*time.Second)
		require.NoError(t, err)
		for _, d := range batch {
			var m ConnectionInfo
			require.NoError(t, json.Unmarshal(d.Body, &m))
			if m.SyncEnd {
				end = d.Body
				continue
			}
			doctors = append(doctors, m)
		}
		require.NoError(t, cons.Ack(batch[len(batch)-1]))
	}
	assert.JSONEq(t, `{"syncEnd":true,"count":50}`, string(end), "the syncEnd carries the simulator's count and nothing else")
	require.Len(t, doctors, 50)
	assert.Equal(t, Generate(9, 0).Connection, doctors[0])
	assert.Equal(t, Generate(9, 49).Connection, doctors[49])
	require.Eventually(t, func() bool { return tcs.Answered.Load() == 1 }, 10*time.Second, 20*time.Millisecond, "syncStart acknowledged after the answer was sent")
	cancel()
	require.NoError(t, <-done)
}

// startRecommendation purges the shared start queue, runs a Recommendation simulator until
// the test ends and returns it with a publisher for start messages.
func startRecommendation(t *testing.T, conn *amqpx.Conn, sim *Recommendation) *amqpx.Publisher {
	t.Helper()
	_, err := conn.Purge(reval.GMCSyncStartQueue)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "Run ends without error when its context ends")
	})
	pub, err := conn.NewPublisher()
	require.NoError(t, err)
	t.Cleanup(func() { pub.Close() })
	return pub
}

// receiveAll reads (and deletes) messages until want arrived, then checks nothing more comes.
func receiveAll(t *testing.T, c *sqsclient.Client, url string, want int) []IndexSyncMessage {
	t.Helper()
	got, _ := receiveAllSent(t, c, url, want)
	return got
}

// receiveAllSent is receiveAll with each message's SentAt (SQS's SentTimestamp), in the same order.
func receiveAllSent(t *testing.T, c *sqsclient.Client, url string, want int) ([]IndexSyncMessage, []time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []IndexSyncMessage
	var sent []time.Time
	for len(got) < want {
		// Ask for no more than is missing, so the last receive does not wait out its long poll.
		msgs, err := c.Receive(ctx, url, min(sqsclient.MaxBatch, want-len(got)), 5*time.Second)
		require.NoError(t, err, "received %d of %d messages", len(got), want)
		for _, m := range msgs {
			var im IndexSyncMessage
			require.NoError(t, json.Unmarshal([]byte(m.Body), &im), m.Body)
			got = append(got, im)
			sent = append(sent, m.SentAt)
		}
		require.NoError(t, c.Delete(ctx, url, msgs))
	}
	extra, err := c.Receive(ctx, url, sqsclient.MaxBatch, time.Second)
	require.NoError(t, err)
	require.Empty(t, extra, "no message beyond the %d expected", want)
	return got, sent
}

// checkGMCLeg asserts one message per doctor 0..n-1 of seed, each exactly Generate's, and
// exactly one syncEnd counting n.
func checkGMCLeg(t *testing.T, got []IndexSyncMessage, seed uint64, n int) {
	t.Helper()
	seen := map[string]bool{}
	ends := 0
	for _, m := range got {
		if m.SyncEnd {
			ends++
			assert.Nil(t, m.Payload, "the syncEnd carries no doctor")
			assert.Equal(t, int64(n), m.Count)
			continue
		}
		require.NotNil(t, m.Payload, "a doctor message has a payload")
		assert.Zero(t, m.Count, "only the syncEnd counts")
		gmc := m.Payload.Doctor.GMCReferenceNumber
		require.False(t, seen[gmc], "doctor %s sent twice", gmc)
		seen[gmc] = true
		num, err := strconv.Atoi(gmc)
		require.NoError(t, err)
		i := num - 1000000
		require.True(t, i >= 0 && i < n, "doctor %s is outside 0..%d", gmc, n-1)
		assert.Equal(t, Generate(seed, i).GMC, *m.Payload)
	}
	assert.Len(t, seen, n, "one message per doctor")
	assert.Equal(t, 1, ends, "exactly one syncEnd")
}

func TestRecommendationAnswersGMCSyncStartOnRealSQS(t *testing.T) {
	conn := dialAMQP(t)
	sqs, url := newSQSQueue(t)
	const doctors, gmcOnly, seed = 230, 27, 11 // not multiples of 10: a partial last batch
	sim := &Recommendation{AMQP: conn, SQS: sqs, QueueURL: url, Doctors: doctors, GMCOnly: gmcOnly, Seed: seed}
	pub := startRecommendation(t, conn, sim)

	require.NoError(t, pub.Publish(context.Background(), reval.Exchange, reval.GMCSyncStartKey, []byte(GMCSyncStart)))
	got := receiveAll(t, sqs, url, doctors+gmcOnly+1)
	checkGMCLeg(t, got, seed, doctors+gmcOnly)
	require.Eventually(t, func() bool { return sim.Answered.Load() == 1 }, 10*time.Second, 20*time.Millisecond, "gmcSyncStart acknowledged after the answer was sent")
	n, err := conn.Purge(reval.GMCSyncStartQueue)
	require.NoError(t, err)
	assert.Zero(t, n, "the start message was acknowledged, not requeued")
}

func TestRecommendationSyncEndFollowsEveryDoctor(t *testing.T) {
	conn := dialAMQP(t)
	sqs, url := newSQSQueue(t)
	const doctors, seed = 95, 3
	sim := &Recommendation{AMQP: conn, SQS: sqs, QueueURL: url, Doctors: doctors, Seed: seed, Senders: 4}
	pub := startRecommendation(t, conn, sim)
	require.NoError(t, pub.Publish(context.Background(), reval.Exchange, reval.GMCSyncStartKey, []byte(GMCSyncStart)))
	require.Eventually(t, func() bool { return sim.Answered.Load() == 1 }, 30*time.Second, 20*time.Millisecond)
	// Everything is in the queue now. SQS promises no order (ElasticMQ hands out messages by
	// send time, in any order within one millisecond), so the check is on SQS's own clock: no
	// doctor was accepted after the syncEnd.
	got, sent := receiveAllSent(t, sqs, url, doctors+1)
	checkGMCLeg(t, got, seed, doctors)
	var end time.Time
	for i, m := range got {
		if m.SyncEnd {
			end = sent[i]
		}
	}
	require.False(t, end.IsZero(), "the SQS server reports SentTimestamp")
	for i, m := range got {
		if !m.SyncEnd {
			assert.False(t, sent[i].After(end), "doctor %s accepted at %s, after the syncEnd (%s)",
				m.Payload.Doctor.GMCReferenceNumber, sent[i].Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
		}
	}
}

func TestRecommendationRejectsAnythingButGMCSyncStart(t *testing.T) {
	conn := dialAMQP(t)
	sqs, url := newSQSQueue(t)
	const doctors, seed = 12, 5
	sim := &Recommendation{AMQP: conn, SQS: sqs, QueueURL: url, Doctors: doctors, Seed: seed}
	pub := startRecommendation(t, conn, sim)
	ctx := context.Background()
	for _, bad := range []string{`"nonsense"`, `nonsense`, `"syncStart"`, `{"start":"gmcSyncStart"}`} {
		require.NoError(t, pub.Publish(ctx, reval.Exchange, reval.GMCSyncStartKey, []byte(bad)))
	}
	msgs, err := sqs.Receive(ctx, url, sqsclient.MaxBatch, 2*time.Second)
	require.NoError(t, err)
	require.Empty(t, msgs, "a bad start message produces nothing")
	assert.Zero(t, sim.Answered.Load())

	// The start queue is served in order with one message in flight: the good start is
	// answered only once every bad one was rejected, and the answer is a single sync.
	require.NoError(t, pub.Publish(ctx, reval.Exchange, reval.GMCSyncStartKey, []byte(GMCSyncStart)))
	got := receiveAll(t, sqs, url, doctors+1)
	checkGMCLeg(t, got, seed, doctors)
	require.Eventually(t, func() bool { return sim.Answered.Load() == 1 }, 10*time.Second, 20*time.Millisecond)
	n, err := conn.Purge(reval.GMCSyncStartQueue)
	require.NoError(t, err)
	assert.Zero(t, n, "rejected messages are dropped, not requeued")
}

func TestIndexSyncMessageJSON(t *testing.T) {
	end, err := json.Marshal(IndexSyncMessage{SyncEnd: true, Count: 3})
	require.NoError(t, err)
	assert.JSONEq(t, `{"payload":null,"syncEnd":true,"count":3}`, string(end))
	g := Generate(1, 0).GMC
	doc, err := json.Marshal(IndexSyncMessage{Payload: &g})
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(doc, &raw))
	assert.Equal(t, "false", string(raw["syncEnd"]))
	assert.NotContains(t, raw, "count", "doctor messages carry no count")
	assert.Contains(t, string(raw["payload"]), `"gmcReferenceNumber":"1000000"`)
}
