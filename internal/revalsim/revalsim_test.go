package revalsim

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
)

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
	u := os.Getenv("OPSFLOW_AMQP_URL")
	if u == "" {
		u = "amqp://guest:guest@127.0.0.1:5672/"
	}
	conn, err := amqpx.Dial(u)
	require.NoError(t, err, "RabbitMQ must run (scripts/stack up)")
	defer conn.Close()
	require.NoError(t, conn.Declare(amqpx.RevalTopology()))
	for _, q := range []string{"reval.queue.connection.syncstart", "reval.queue.connection.syncdata"} {
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
	require.NoError(t, pub.Publish(ctx, "reval.exchange", "reval.connection.syncstart", []byte(`"syncStart"`)))

	cons, err := conn.Consume("reval.queue.connection.syncdata", 100)
	require.NoError(t, err)
	defer cons.Close()
	var doctors []ConnectionInfo
	for {
		batch, err := cons.Batch(ctx, 100, 10*time.Second)
		require.NoError(t, err)
		end := false
		for _, d := range batch {
			var m ConnectionInfo
			require.NoError(t, json.Unmarshal(d.Body, &m))
			if m.SyncEnd {
				end = true
				continue
			}
			doctors = append(doctors, m)
		}
		require.NoError(t, cons.Ack(batch[len(batch)-1]))
		if end {
			break
		}
	}
	require.Len(t, doctors, 50)
	assert.Equal(t, Generate(9, 0).Connection, doctors[0])
	assert.Equal(t, Generate(9, 49).Connection, doctors[49])
	require.Eventually(t, func() bool { return tcs.Answered.Load() == 1 }, 10*time.Second, 20*time.Millisecond, "syncStart acknowledged after the answer was sent")
	cancel()
	require.NoError(t, <-done)
}
