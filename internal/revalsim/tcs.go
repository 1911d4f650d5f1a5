package revalsim

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/reval"
)

// TCS answers each "syncStart" on reval.queue.connection.syncstart with Doctors
// ConnectionInfoDto messages on reval.connection.syncdata, then {"syncEnd":true,"count":N}
// (N = Doctors), standing in for TIS-TCS's RevalidationMessageListener so the sync can be
// tested and benchmarked without TCS. "count" is an opsflow-simulator extension: the real
// TCS sends only {"syncEnd":true}, so a consumer must work without it (it may use it as a
// cross-check when present).
type TCS struct {
	// Conn is the RabbitMQ connection; Run declares the revalidation topology on it.
	Conn *amqpx.Conn
	// Doctors is how many doctors each syncStart is answered with: Generate(Seed, 0..Doctors-1).
	Doctors int
	// Seed selects the population, shared with Recommendation so both sides agree.
	Seed uint64
	// Answered counts the syncStarts served, for tests.
	Answered atomic.Int32
}

// Run serves until ctx ends (then it returns nil), so a test or the demo runs it in a
// goroutine. A message other than the JSON string "syncStart" is rejected without requeue
// and ignored, as TCS does. The syncStart is acknowledged only after the answer was sent.
func (s *TCS) Run(ctx context.Context) error {
	pub, err := s.Conn.NewPublisher()
	if err != nil {
		return err
	}
	defer pub.Close()
	return serveCommand(ctx, s.Conn, reval.SyncStartQueue, reval.SyncStartCommand, &s.Answered,
		func(ctx context.Context) error { return s.send(ctx, pub, reval.Exchange) })
}

// send publishes the doctors in chunks whose confirmations are awaited together (as a real
// producer's async publisher would), then the syncEnd.
func (s *TCS) send(ctx context.Context, pub *amqpx.Publisher, exchange string) error {
	const chunk = 1000
	bodies := make([][]byte, 0, chunk)
	for i := 0; i < s.Doctors; i++ {
		body, err := json.Marshal(Generate(s.Seed, i).Connection)
		if err != nil {
			return err
		}
		bodies = append(bodies, body)
		if len(bodies) == chunk || i == s.Doctors-1 {
			if err := pub.PublishBatch(ctx, exchange, reval.SyncDataKey, bodies); err != nil {
				return fmt.Errorf("tcs simulator: doctors up to %d: %w", i, err)
			}
			bodies = bodies[:0]
		}
	}
	end, err := json.Marshal(tcsSyncEnd{SyncEnd: true, Count: int64(s.Doctors)})
	if err != nil {
		return err
	}
	return pub.Publish(ctx, exchange, reval.SyncDataKey, end)
}

// tcsSyncEnd is TCS's end marker: only syncEnd (and the simulator's count), none of the
// doctor fields a ConnectionInfo would carry as zero values.
type tcsSyncEnd struct {
	SyncEnd bool  `json:"syncEnd"`
	Count   int64 `json:"count"`
}
