package sqsclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/sqsclient"
)

// These tests run against the dev stack's real SQS server (ElasticMQ), never a fake.

func endpoint() string {
	if e := os.Getenv("OPSFLOW_SQS_ENDPOINT"); e != "" {
		return e
	}
	return "http://127.0.0.1:9324"
}

// newClient fails (never skips) when the SQS server does not answer ListQueues.
func newClient(t *testing.T) *sqsclient.Client {
	t.Helper()
	ep := endpoint()
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(ep, "/")+"/", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("SQS server (ElasticMQ) at %s is unreachable (%v); start it with: scripts/stack up", ep, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("local SQS server at %s answered ListQueues with HTTP %d; restart it with: scripts/stack up", ep, resp.StatusCode)
	}
	c, err := sqsclient.New(context.Background(), ep, "")
	require.NoError(t, err)
	return c
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newQueue creates a queue whose name is unique to this test run, deleted when the test ends.
func newQueue(t *testing.T, c *sqsclient.Client) (name, url string) {
	t.Helper()
	name = fmt.Sprintf("opsflow-test-%s-%d", unsafeName.ReplaceAllString(t.Name(), "-"), time.Now().UnixNano())
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	url, err := c.EnsureQueue(context.Background(), name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.DeleteQueue(context.Background(), url) })
	return name, url
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureQueueIsIdempotent(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	name, url := newQueue(t, c)
	assert.Contains(t, url, name)
	again, err := c.EnsureQueue(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, url, again)
}

func TestSendReceiveDeleteDrainsQueue(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	_, url := newQueue(t, c)

	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf(`{"gmcNumber":"%07d","doctorFirstName":"Doc%d"}`, 1000000+i, i))
	}
	require.NoError(t, c.Send(ctx, url, want...))
	// Counts are approximate on SQS (AWS lags up to a minute); poll until they settle.
	assert.Eventually(t, func() bool {
		visible, inFlight, err := c.ApproximateCount(ctx, url)
		return err == nil && visible == 25 && inFlight == 0
	}, 5*time.Second, 20*time.Millisecond, "25 visible, 0 in flight after sending")

	var got []sqsclient.Message
	for len(got) < 25 {
		msgs, err := c.Receive(ctx, url, 10, time.Second)
		require.NoError(t, err)
		if len(msgs) == 0 {
			break
		}
		got = append(got, msgs...)
	}
	require.Len(t, got, 25)
	bodies := make([]string, len(got))
	for i, m := range got {
		bodies[i] = m.Body
		assert.NotEmpty(t, m.ID)
		assert.NotEmpty(t, m.ReceiptHandle)
	}
	sort.Strings(bodies)
	sort.Strings(want)
	assert.Equal(t, want, bodies)

	visible, inFlight, err := c.ApproximateCount(ctx, url)
	require.NoError(t, err)
	assert.Equal(t, 0, visible, "received messages are not visible (ElasticMQ and AWS count them apart)")
	assert.Equal(t, 25, inFlight, "received but undeleted messages are in flight")

	require.NoError(t, c.Delete(ctx, url, got))
	visible, inFlight, err = c.ApproximateCount(ctx, url)
	require.NoError(t, err)
	assert.Equal(t, 0, visible)
	assert.Equal(t, 0, inFlight)
}

// An undeleted message comes back after its visibility timeout: a consumer that crashes before
// Delete loses nothing, which is why the runbook deletes only after processing.
func TestUndeletedMessageIsRedelivered(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	_, url := newQueue(t, c)
	require.NoError(t, c.SetVisibilityTimeout(ctx, url, time.Second))
	require.NoError(t, c.Send(ctx, url, `{"gmcNumber":"7000001"}`))

	first, err := c.Receive(ctx, url, 1, time.Second)
	require.NoError(t, err)
	require.Len(t, first, 1)

	// Hidden while "being processed".
	none, err := c.Receive(ctx, url, 1, 0)
	require.NoError(t, err)
	assert.Empty(t, none)

	// "Crash": no Delete. After the timeout the same message is delivered again.
	time.Sleep(1500 * time.Millisecond)
	var again []sqsclient.Message
	deadline := time.Now().Add(10 * time.Second)
	for len(again) == 0 && time.Now().Before(deadline) {
		again, err = c.Receive(ctx, url, 1, time.Second)
		require.NoError(t, err)
	}
	require.Len(t, again, 1, "the undeleted message was not re-delivered")
	assert.Equal(t, first[0].ID, again[0].ID)
	assert.Equal(t, first[0].Body, again[0].Body)
	assert.Equal(t, first[0].SentAt, again[0].SentAt, "SentAt is the first send, not the re-delivery")

	require.NoError(t, c.Delete(ctx, url, again))
	visible, inFlight, err := c.ApproximateCount(ctx, url)
	require.NoError(t, err)
	assert.Equal(t, 0, visible+inFlight)
}

func TestDeleteWithBogusReceiptHandleNamesTheMessage(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	_, url := newQueue(t, c)
	require.NoError(t, c.Send(ctx, url, "a", "b"))
	msgs, err := c.Receive(ctx, url, 10, time.Second)
	require.NoError(t, err)
	require.NotEmpty(t, msgs)

	good := msgs[0]
	bogus := sqsclient.Message{ID: "bogus-message-id-42", ReceiptHandle: "not-a-receipt-handle"}
	err = c.Delete(ctx, url, []sqsclient.Message{good, bogus})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bogus-message-id-42")
	assert.NotContains(t, err.Error(), good.ID, "the good message was deleted and must not be reported")
	assert.Contains(t, err.Error(), endpoint())
	var derr *sqsclient.DeleteError
	require.ErrorAs(t, err, &derr)
	require.Len(t, derr.Failed, 1)
	assert.Equal(t, "bogus-message-id-42", derr.Failed[0].ID)
	assert.NotEmpty(t, derr.Failed[0].Code)
}

func TestReceiveReturnsPromptlyOnCancel(t *testing.T) {
	c := newClient(t)
	_, url := newQueue(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	msgs, err := c.Receive(ctx, url, 10, 20*time.Second)
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Empty(t, msgs)
	assert.True(t, errors.Is(err, context.Canceled), "error %v is not context.Canceled", err)
	assert.Less(t, elapsed, 3*time.Second, "long poll did not end on cancel")
}

// SentAt is SQS's SentTimestamp: on the server's clock (here the same host), in milliseconds.
func TestReceivedMessagesCarryWhenTheyWereSent(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	_, url := newQueue(t, c)
	before := time.Now().Truncate(time.Millisecond)
	require.NoError(t, c.Send(ctx, url, "a", "b"))
	after := time.Now()
	var got []sqsclient.Message
	for len(got) < 2 {
		msgs, err := c.Receive(ctx, url, 10, time.Second)
		require.NoError(t, err)
		require.NotEmpty(t, msgs)
		got = append(got, msgs...)
	}
	for _, m := range got {
		require.False(t, m.SentAt.IsZero(), "message %s has no SentTimestamp", m.ID)
		assert.False(t, m.SentAt.Before(before), "sent at %s, before the send began at %s", m.SentAt, before)
		assert.False(t, m.SentAt.After(after), "sent at %s, after the send returned at %s", m.SentAt, after)
		assert.Zero(t, m.SentAt.Nanosecond()%int(time.Millisecond), "millisecond precision")
	}
	require.NoError(t, c.Delete(ctx, url, got))
}

func TestPurgeAndLimits(t *testing.T) {
	c := newClient(t)
	ctx := ctxT(t)
	_, url := newQueue(t, c)
	require.NoError(t, c.Send(ctx, url, "x", "y", "z"))
	// The dev stack's ElasticMQ empties the queue before it answers (AWS takes up to 60 s).
	require.NoError(t, c.Purge(ctx, url))
	msgs, err := c.Receive(ctx, url, 10, time.Second)
	require.NoError(t, err)
	assert.Empty(t, msgs, "purged")
	err = c.Purge(ctx, url+"-missing")
	require.Error(t, err)
	assert.Contains(t, err.Error(), endpoint())

	_, err = c.Receive(ctx, url, 11, 0)
	assert.ErrorContains(t, err, "out of range")
	_, err = c.Receive(ctx, url, 0, 0)
	assert.ErrorContains(t, err, "out of range")
	require.NoError(t, c.Send(ctx, url)) // nothing to send
	require.NoError(t, c.Delete(ctx, url, nil))
}

func TestErrorsNameTheEndpoint(t *testing.T) {
	// A port nothing listens on: the error must say where the client tried to go.
	c, err := sqsclient.New(context.Background(), "http://127.0.0.1:1", "")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.EnsureQueue(ctx, "opsflow-test-unreachable")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http://127.0.0.1:1")

	_, err = sqsclient.New(context.Background(), "127.0.0.1:9324", "")
	assert.ErrorContains(t, err, "127.0.0.1:9324")
}
