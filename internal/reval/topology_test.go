package reval

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/testsupport/revallock"
)

func dial(t *testing.T) *amqpx.Conn {
	t.Helper()
	u := os.Getenv("OPSFLOW_AMQP_URL")
	if u == "" {
		u = "amqp://guest:guest@127.0.0.1:5672/"
	}
	c, err := amqpx.Dial(u)
	require.NoError(t, err, "RabbitMQ must run on 127.0.0.1:5672 (scripts/stack up starts it)")
	t.Cleanup(func() { c.Close() })
	return c
}

// The topology declares against the real broker, and a syncStart reaches TCS's queue.
func TestTopologyDeclaresAndRoutesSyncStart(t *testing.T) {
	revallock.Lock(t)
	c := dial(t)
	require.NoError(t, c.Declare(Topology()))
	pub, err := c.NewPublisher()
	require.NoError(t, err)
	defer pub.Close()
	_, err = c.Purge(SyncStartQueue)
	require.NoError(t, err)
	require.NoError(t, pub.Publish(context.Background(), Exchange, SyncStartKey, []byte(`"`+SyncStartCommand+`"`)))
	cons, err := c.Consume(SyncStartQueue, 1)
	require.NoError(t, err)
	defer cons.Close()
	b, err := cons.Batch(context.Background(), 1, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, `"`+SyncStartCommand+`"`, string(b[0].Body))
	require.NoError(t, cons.Ack(b[0]))
}

func TestGMCSyncQueue(t *testing.T) {
	assert.Equal(t, "tis-revalidation-sync-gmc-queue-prod", GMCSyncQueue("prod"))
	assert.Equal(t, "tis-revalidation-sync-gmc-queue-preprod", GMCSyncQueue("preprod"))
}
