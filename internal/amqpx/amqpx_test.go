package amqpx

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dial(t *testing.T) *Conn {
	t.Helper()
	u := os.Getenv("OPSFLOW_AMQP_URL")
	if u == "" {
		u = "amqp://guest:guest@127.0.0.1:5672/"
	}
	c, err := Dial(u)
	require.NoError(t, err, "RabbitMQ must run on 127.0.0.1:5672 (scripts/stack up starts it)")
	t.Cleanup(func() { c.Close() })
	return c
}

func testTopology(t *testing.T) Topology {
	s := fmt.Sprintf("%d", time.Now().UnixNano())
	return Topology{Exchange: "test.exchange." + s, Bindings: []Binding{{Queue: "test.queue." + s, RoutingKey: "test.key"}}}
}

func TestDeclarePublishConsumeAckOnlyAfterStoring(t *testing.T) {
	c := dial(t)
	top := testTopology(t)
	require.NoError(t, c.Declare(top))
	require.NoError(t, c.Declare(top), "declaring twice is fine")
	q := top.Bindings[0].Queue
	t.Cleanup(func() {
		ch, _ := c.conn.Channel()
		ch.QueueDelete(q, false, false, false)
		ch.ExchangeDelete(top.Exchange, false, false)
		ch.Close()
	})

	pub, err := c.NewPublisher()
	require.NoError(t, err)
	defer pub.Close()
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		require.NoError(t, pub.Publish(ctx, top.Exchange, "test.key", []byte(fmt.Sprintf(`{"n":%d}`, i))))
	}
	err = pub.Publish(ctx, top.Exchange, "no.such.key", []byte(`{}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unroutable")

	// Take 10 and crash before acknowledging: all 25 are still there for the next consumer.
	cons, err := c.Consume(q, 10)
	require.NoError(t, err)
	batch, err := cons.Batch(ctx, 10, 5*time.Second)
	require.NoError(t, err)
	require.NotEmpty(t, batch)
	require.NoError(t, cons.Close())

	cons, err = c.Consume(q, 50)
	require.NoError(t, err)
	defer cons.Close()
	var got []string
	for len(got) < 25 {
		batch, err := cons.Batch(ctx, 10, 5*time.Second)
		require.NoError(t, err)
		for _, d := range batch {
			got = append(got, string(d.Body))
		}
		require.NoError(t, cons.Ack(batch[len(batch)-1]))
	}
	assert.Len(t, got, 25)
	assert.Contains(t, got, `{"n":0}`)
	assert.Contains(t, got, `{"n":24}`)
	_, err = cons.Batch(ctx, 10, 300*time.Millisecond)
	assert.ErrorIs(t, err, ErrIdle, "all acknowledged: nothing left")
}

func TestDialErrorHidesPassword(t *testing.T) {
	_, err := Dial("amqp://guest:s3cret-pw@127.0.0.1:1/")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret-pw")
	assert.Contains(t, err.Error(), "127.0.0.1:1")
}

func TestPublishBatchIsConfirmedAndOrdered(t *testing.T) {
	conn := dial(t)
	topo := testTopology(t)
	require.NoError(t, conn.Declare(topo))
	t.Cleanup(func() {
		ch, _ := conn.conn.Channel()
		ch.QueueDelete(topo.Bindings[0].Queue, false, false, false)
		ch.ExchangeDelete(topo.Exchange, false, false)
		ch.Close()
	})
	pub, err := conn.NewPublisher()
	require.NoError(t, err)
	defer pub.Close()
	var bodies [][]byte
	for i := range 2500 {
		bodies = append(bodies, []byte(fmt.Sprintf(`{"n":%d}`, i)))
	}
	require.NoError(t, pub.PublishBatch(context.Background(), topo.Exchange, topo.Bindings[0].RoutingKey, bodies))
	cons, err := conn.Consume(topo.Bindings[0].Queue, 3000)
	require.NoError(t, err)
	defer cons.Close()
	got := 0
	for got < len(bodies) {
		b, err := cons.Batch(context.Background(), 1000, 5*time.Second)
		require.NoError(t, err)
		for _, d := range b {
			require.Equal(t, string(bodies[got]), string(d.Body), "in order")
			got++
		}
		require.NoError(t, cons.Ack(b[len(b)-1]))
	}
	err = pub.PublishBatch(context.Background(), topo.Exchange, "nobody.listens", bodies[:3])
	require.Error(t, err, "unroutable is an error")
}

func TestFillWaitsForAFullBatchUpToTheLinger(t *testing.T) {
	conn := dial(t)
	topo := testTopology(t)
	require.NoError(t, conn.Declare(topo))
	t.Cleanup(func() {
		ch, _ := conn.conn.Channel()
		ch.QueueDelete(topo.Bindings[0].Queue, false, false, false)
		ch.ExchangeDelete(topo.Exchange, false, false)
		ch.Close()
	})
	pub, err := conn.NewPublisher()
	require.NoError(t, err)
	defer pub.Close()
	cons, err := conn.Consume(topo.Bindings[0].Queue, 100)
	require.NoError(t, err)
	defer cons.Close()
	ctx := context.Background()
	go func() {
		for i := range 30 {
			_ = pub.Publish(ctx, topo.Exchange, "test.key", []byte(fmt.Sprintf(`{"n":%d}`, i)))
			time.Sleep(5 * time.Millisecond)
		}
	}()
	b, err := cons.Fill(ctx, 30, 5*time.Second, 3*time.Second)
	require.NoError(t, err)
	assert.Len(t, b, 30, "messages trickling in are collected into one batch")
	require.NoError(t, cons.Ack(b[len(b)-1]))

	require.NoError(t, pub.Publish(ctx, topo.Exchange, "test.key", []byte(`{"n":"last"}`)))
	start := time.Now()
	b, err = cons.Fill(ctx, 30, 5*time.Second, 200*time.Millisecond)
	require.NoError(t, err)
	assert.Len(t, b, 1, "a partial batch is returned after the linger")
	assert.Less(t, time.Since(start), 2*time.Second)
}
