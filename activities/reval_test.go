package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/searchtest"
)

// revalServers are the real servers of the sync: RabbitMQ and SQS from the dev stack,
// and the stack's OpenSearch (OPSFLOW_ES_URL), cleared of the sync's indices.
type revalServers struct {
	es   *esclient.Client
	dial func() (*amqpx.Conn, error)
	conn *amqpx.Conn
	sqs  *sqsclient.Client
}

func startReval(t *testing.T) revalServers {
	t.Helper()
	es := searchtest.Fresh(t) // also serialises the reval.* queues (revallock)
	amqpURL := os.Getenv("OPSFLOW_AMQP_URL")
	sqsURL := os.Getenv("OPSFLOW_SQS_ENDPOINT")
	if amqpURL == "" || sqsURL == "" {
		t.Fatal("OPSFLOW_AMQP_URL and OPSFLOW_SQS_ENDPOINT must point at the dev stack: eval \"$(scripts/stack env)\"")
	}
	dial := func() (*amqpx.Conn, error) { return amqpx.Dial(amqpURL) }
	conn, err := dial()
	require.NoError(t, err, "RabbitMQ at %s", amqpURL)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.Declare(reval.Topology()))
	for _, b := range reval.Topology().Bindings {
		_, err := conn.Purge(b.Queue)
		require.NoError(t, err)
	}
	sqs, err := sqsclient.New(context.Background(), sqsURL, "us-east-1")
	require.NoError(t, err)
	return revalServers{es: es, dial: dial, conn: conn, sqs: sqs}
}

func (s revalServers) newIndex(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", reval.MasterDoctorAlias, time.Now().UnixNano())
	require.NoError(t, s.es.CreateIndex(context.Background(), name, reval.MasterDoctorMapping()))
	t.Cleanup(func() { _ = s.es.DeleteIndex(context.Background(), name) })
	return name
}

func (s revalServers) publish(t *testing.T, key string, bodies ...[]byte) {
	t.Helper()
	pub, err := s.conn.NewPublisher()
	require.NoError(t, err)
	defer pub.Close()
	for _, b := range bodies {
		require.NoError(t, pub.Publish(context.Background(), reval.Exchange, key, b))
	}
}

func connectionBodies(t *testing.T, seed uint64, n int) [][]byte {
	out := make([][]byte, 0, n)
	for i := range n {
		b, err := json.Marshal(revalsim.Generate(seed, i).Connection)
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

func activityEnv() *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	return ts.NewTestActivityEnvironment()
}

func appErrType(t *testing.T, err error) string {
	t.Helper()
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want an application error, got %v", err)
	return app.Type()
}

func TestIngestConnectionsFromTheTCSSimulator(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tcs := &revalsim.TCS{Conn: s.conn, Doctors: 2500, Seed: 7}
	go func() { _ = tcs.Run(ctx) }()

	env := activityEnv()
	env.RegisterActivity(&RabbitActivities{Dial: s.dial})
	_, err := env.ExecuteActivity((&RabbitActivities{}).PublishRevalCommand, CommandInput{RoutingKey: reval.SyncStartKey, Command: reval.SyncStartCommand})
	require.NoError(t, err)

	ing := &RabbitActivities{Dial: s.dial, Sink: s.es, BatchSize: 500}
	env.RegisterActivity(ing)
	v, err := env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 30 * time.Second})
	require.NoError(t, err)
	var res IngestResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, int64(2500), res.Messages)
	assert.Equal(t, int64(2500), res.Docs)
	n, err := s.es.Count(context.Background(), index)
	require.NoError(t, err)
	assert.Equal(t, int64(2500), n)
	left, err := s.conn.Purge(reval.SyncDataQueue)
	require.NoError(t, err)
	assert.Zero(t, left, "everything, syncEnd included, was acknowledged")

	ids, _, err := s.es.SearchIDs(context.Background(), index, 3)
	require.NoError(t, err)
	assert.Contains(t, []string{"100000", "100001", "100002"}, ids[0], "document id = tcsPersonId")
}

// A consumer that stored documents and died before acknowledging them: the broker
// re-delivers, the next attempt overwrites by id and resumes the heartbeated counts.
func TestIngestConnectionsResumesAfterACrashWithoutDuplicates(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	bodies := connectionBodies(t, 11, 1200)
	s.publish(t, reval.SyncDataKey, bodies...)
	s.publish(t, reval.SyncDataKey, []byte(`{"syncEnd":true}`)) // the real TCS sends no count

	// The "crashed" attempt: consume 700, store them, never ack, drop the connection.
	crashed, err := s.dial()
	require.NoError(t, err)
	cons, err := crashed.Consume(reval.SyncDataQueue, 1000)
	require.NoError(t, err)
	var got int
	var docs []esclient.Doc
	for got < 700 {
		b, err := cons.Batch(context.Background(), 700-got, 5*time.Second)
		require.NoError(t, err)
		for _, d := range b {
			c, err := reval.ParseConnection(d.Body)
			require.NoError(t, err)
			docs = append(docs, esclient.Doc{ID: reval.DocID(c.TCSPersonID), Source: reval.ConnectionDoc(c)})
		}
		got += len(b)
	}
	_, err = s.es.BulkIndex(context.Background(), index, docs)
	require.NoError(t, err)
	crashed.Close()

	env := activityEnv()
	ing := &RabbitActivities{Dial: s.dial, Sink: s.es, BatchSize: 256}
	env.RegisterActivity(ing)
	env.SetHeartbeatDetails(ingestProgress{Messages: 512, Stored: 512})
	v, err := env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 30 * time.Second})
	require.NoError(t, err)
	var res IngestResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, int64(1200), res.Docs, "exact, no duplicates")
	assert.Equal(t, int64(512+1200), res.Messages, "re-deliveries count again in Messages")
	assert.Zero(t, res.Announced)
	total, err := s.es.Count(context.Background(), index)
	require.NoError(t, err)
	assert.Equal(t, int64(1200), total)
}

func TestIngestConnectionsRefusesAMalformedMessageAndLeavesItQueued(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	s.publish(t, reval.SyncDataKey, connectionBodies(t, 3, 5)...)
	s.publish(t, reval.SyncDataKey, []byte(`{"tcsPersonId":"Secretname"`))
	env := activityEnv()
	ing := &RabbitActivities{Dial: s.dial, Sink: s.es}
	env.RegisterActivity(ing)
	_, err := env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 10 * time.Second})
	require.Error(t, err)
	assert.Equal(t, ErrMalformedMessage, appErrType(t, err))
	assert.Contains(t, err.Error(), "message 6 on "+reval.SyncDataQueue)
	assert.NotContains(t, err.Error(), "Secretname", "message content never reaches errors or history")
	time.Sleep(200 * time.Millisecond) // the broker re-queues what the closed channel held
	left, err := s.conn.Purge(reval.SyncDataQueue)
	require.NoError(t, err)
	require.NoError(t, s.es.Refresh(context.Background(), index))
	stored, err := s.es.Count(context.Background(), index)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, left, 1, "the malformed message stays queued for inspection")
	assert.Equal(t, int64(6-left), stored, "a message is acknowledged only once its document is stored")
}

func TestIngestConnectionsGivesUpWhenTCSStaysSilent(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	env := activityEnv()
	ing := &RabbitActivities{Dial: s.dial, Sink: s.es}
	env.RegisterActivity(ing)
	_, err := env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 2 * time.Second})
	require.Error(t, err)
	assert.Equal(t, ErrSyncDataTimeout, appErrType(t, err))
	assert.Contains(t, err.Error(), "is TCS answering syncStart?")
}

func TestIngestConnectionsReportsDocumentsElasticsearchRefuses(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	bad := revalsim.Generate(5, 0).Connection
	bad.SubmissionDate = "not-a-date"
	b, err := json.Marshal(bad)
	require.NoError(t, err)
	s.publish(t, reval.SyncDataKey, b, []byte(`{"syncEnd":true}`))
	env := activityEnv()
	ing := &RabbitActivities{Dial: s.dial, Sink: s.es}
	env.RegisterActivity(ing)
	_, err = env.ExecuteActivity(ing.IngestConnections, IngestInput{Index: index, IdleTimeout: 10 * time.Second})
	require.Error(t, err)
	assert.Equal(t, ErrBulkRejected, appErrType(t, err))
	assert.Contains(t, err.Error(), `doc "100000"`)
}

func gmcQueue(t *testing.T, s revalServers) (name, url string) {
	t.Helper()
	name = reval.GMCSyncQueue(fmt.Sprintf("test%d", time.Now().UnixNano()))
	url, err := s.sqs.EnsureQueue(context.Background(), name)
	require.NoError(t, err)
	require.NoError(t, s.sqs.SetVisibilityTimeout(context.Background(), url, 5*time.Second))
	t.Cleanup(func() { _ = s.sqs.DeleteQueue(context.Background(), url) })
	return name, url
}

// The GMC queue is unordered: the syncEnd may come first. Doctors TCS sent are updated
// in place, doctors only GMC knows become new documents, every message is deleted.
func TestIngestGMCUpsertsByGMCNumberFromAnUnorderedQueue(t *testing.T) {
	s := startReval(t)
	ctx := context.Background()
	index := s.newIndex(t)
	const tcsN, gmcOnly = 300, 20
	var docs []esclient.Doc
	for i := range tcsN {
		c := revalsim.Generate(21, i).Connection
		docs = append(docs, esclient.Doc{ID: reval.DocID(c.TCSPersonID), Source: reval.ConnectionDoc(viaJSON[reval.ConnectionInfo](t, c))})
	}
	_, err := s.es.BulkIndex(ctx, index, docs, esclient.WithRefresh())
	require.NoError(t, err)

	name, url := gmcQueue(t, s)
	bodies := []string{`{"payload":null,"syncEnd":true,"count":320}`}
	order := rand.Perm(tcsN + gmcOnly)
	for _, i := range order {
		b, err := json.Marshal(reval.IndexSyncMessage{Payload: ptrTo(viaJSON[reval.RevalidationSummary](t, revalsim.Generate(21, i).GMC))})
		require.NoError(t, err)
		bodies = append(bodies, string(b))
	}
	require.NoError(t, s.sqs.Send(ctx, url, bodies...))

	env := activityEnv()
	ing := &SQSActivities{SQS: s.sqs, Sink: s.es, Receivers: 4}
	env.RegisterActivity(ing)
	v, err := env.ExecuteActivity(ing.IngestGMC, IngestInput{Index: index, Queue: name, IdleTimeout: 30 * time.Second, Quiet: time.Second})
	require.NoError(t, err)
	var res IngestResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, int64(320), res.Announced)
	assert.Equal(t, int64(320), res.Docs, "every doctor carries GMC data")
	assert.Equal(t, int64(gmcOnly), res.Created)
	assert.Equal(t, int64(320), res.Messages)
	total, err := s.es.Count(ctx, index)
	require.NoError(t, err)
	assert.Equal(t, int64(tcsN+gmcOnly), total, "TCS doctors updated in place, no duplicates")
	visible, inFlight, err := s.sqs.ApproximateCount(ctx, url)
	require.NoError(t, err)
	assert.Zero(t, visible+inFlight, "every message, the syncEnd included, was deleted")
	withTCS, err := s.es.CountQuery(ctx, index, map[string]any{"exists": map[string]any{"field": "tcsPersonId"}})
	require.NoError(t, err)
	assert.Equal(t, int64(tcsN), withTCS, "a GMC update never removes TCS fields")
}

// viaJSON converts a simulator value to the message type the services' JSON decodes to.
func viaJSON[T any](t testing.TB, v any) T {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func ptrTo[T any](v T) *T { return &v }

func TestIngestGMCRefusesAMalformedMessage(t *testing.T) {
	s := startReval(t)
	index := s.newIndex(t)
	name, url := gmcQueue(t, s)
	require.NoError(t, s.sqs.Send(context.Background(), url, `{"payload":{"doctor":{"doctorFirstName":"Secretname"}}}`))
	env := activityEnv()
	ing := &SQSActivities{SQS: s.sqs, Sink: s.es, Receivers: 2}
	env.RegisterActivity(ing)
	_, err := env.ExecuteActivity(ing.IngestGMC, IngestInput{Index: index, Queue: name, IdleTimeout: 10 * time.Second})
	require.Error(t, err)
	assert.Equal(t, ErrMalformedMessage, appErrType(t, err))
	assert.NotContains(t, err.Error(), "Secretname")
}

func TestPublishRevalCommandSendsAJSONStringTheServicesAccept(t *testing.T) {
	s := startReval(t)
	env := activityEnv()
	r := &RabbitActivities{Dial: s.dial}
	env.RegisterActivity(r)
	_, err := env.ExecuteActivity(r.PublishRevalCommand, CommandInput{RoutingKey: reval.IndexRebuildKey, Command: reval.GetMasterCommand})
	require.NoError(t, err)
	for _, q := range []string{reval.IndexRebuildRecommendationQueue, reval.IndexRebuildConnectionQueue} {
		cons, err := s.conn.Consume(q, 1)
		require.NoError(t, err)
		b, err := cons.Batch(context.Background(), 1, 5*time.Second)
		require.NoError(t, err, q)
		assert.Equal(t, `"`+reval.GetMasterCommand+`"`, string(b[0].Body), q)
		require.NoError(t, cons.Ack(b[0]))
		cons.Close()
	}
	_, err = env.ExecuteActivity(r.PublishRevalCommand, CommandInput{RoutingKey: "nobody.listens", Command: "x"})
	require.Error(t, err, "an unroutable command is an error, not a silent drop")

	s.publish(t, reval.SyncDataKey, []byte(`{"syncEnd":true}`))
	v, err := env.ExecuteActivity(r.ClearSyncData)
	require.NoError(t, err)
	var cleared ClearResult
	require.NoError(t, v.Get(&cleared))
	assert.Equal(t, 1, cleared.SyncData, "a stale syncEnd of an aborted sync is dropped before syncStart")
}
