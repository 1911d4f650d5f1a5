package revalsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// GMCSyncStart is the JSON message (a JSON string) the integration service publishes on
// reval.exchange / reval.recommendation.syncstart to start the GMC leg; exported so the
// sync and its tests publish exactly what the recommendation simulator accepts.
const GMCSyncStart = `"` + reval.GMCSyncStartCommand + `"`

// DefaultSenders is how many goroutines Recommendation sends with when Senders is 0: enough
// to send 300 000 messages to a local SQS server in well under a minute, below the AWS SDK's
// 10 idle connections per host so every sender keeps its connection.
const DefaultSenders = 8

// IndexSyncMessage is one message of the GMC leg on SQS (internal/reval): a doctor, or the
// end marker {"payload":null,"syncEnd":true,"count":N}.
type IndexSyncMessage = reval.IndexSyncMessage

// Recommendation stands in for tis-revalidation-recommendation's GmcDoctorConnectionSyncService
// in its SQS days: it answers each "gmcSyncStart" on reval.queue.recommendation.syncstart with
// one IndexSyncMessage per doctor on the SQS queue QueueURL, then the syncEnd. Doctors
// Generate(Seed, 0..Doctors-1) are the ones TCS also knows (same seed as the TCS simulator);
// the GMCOnly after them exist only in GMC (doctors new to TIS), so a consumer must create
// documents for them instead of updating.
type Recommendation struct {
	// AMQP is the RabbitMQ connection; Run declares the revalidation topology on it.
	AMQP *amqpx.Conn
	// SQS sends the answer.
	SQS *sqsclient.Client
	// QueueURL is the SQS queue the answer goes to (see reval.GMCSyncQueue, sqsclient.EnsureQueue).
	QueueURL string
	// Doctors is how many doctors TCS also knows: Generate(Seed, 0..Doctors-1).
	Doctors int
	// GMCOnly is how many more doctors only GMC knows: Generate(Seed, Doctors..Doctors+GMCOnly-1).
	GMCOnly int
	// Seed selects the population, shared with TCS so both sides agree.
	Seed uint64
	// Senders is how many goroutines send concurrently; 0 means DefaultSenders. The
	// benchmark sends hundreds of thousands of messages, one SendMessageBatch of 10 per call.
	Senders int
	// Answered counts the gmcSyncStarts served, for tests.
	Answered atomic.Int32
}

// Run serves until ctx ends (then it returns nil), so a test or the demo runs it in a
// goroutine. A message other than the JSON string "gmcSyncStart" is rejected without requeue
// and ignored, like the TCS simulator. The start message is acknowledged only after every
// message, the syncEnd included, was sent; if sending fails Run returns the error and the
// start message goes back to the queue.
func (s *Recommendation) Run(ctx context.Context) error {
	if s.AMQP == nil || s.SQS == nil || s.QueueURL == "" {
		return errors.New("recommendation simulator: AMQP, SQS and QueueURL are required")
	}
	return serveCommand(ctx, s.AMQP, reval.GMCSyncStartQueue, reval.GMCSyncStartCommand, &s.Answered, s.send)
}

// send sends every doctor with Senders goroutines, each taking the next sqsclient.MaxBatch
// doctors, and the syncEnd only after all of them were sent.
func (s *Recommendation) send(ctx context.Context) error {
	total := s.Doctors + s.GMCOnly
	senders := s.Senders
	if senders <= 0 {
		senders = DefaultSenders
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			bodies := make([]string, 0, sqsclient.MaxBatch)
			for ctx.Err() == nil {
				from := int(next.Add(sqsclient.MaxBatch)) - sqsclient.MaxBatch
				if from >= total {
					return
				}
				to := min(from+sqsclient.MaxBatch, total)
				bodies = bodies[:0]
				for i := from; i < to; i++ {
					gmc := Generate(s.Seed, i).GMC
					b, err := json.Marshal(IndexSyncMessage{Payload: &gmc})
					if err != nil {
						cancel(err)
						return
					}
					bodies = append(bodies, string(b))
				}
				if err := s.SQS.Send(ctx, s.QueueURL, bodies...); err != nil {
					cancel(fmt.Errorf("recommendation simulator: doctors %d..%d: %w", from, to-1, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	end, err := json.Marshal(IndexSyncMessage{SyncEnd: true, Count: int64(total)})
	if err != nil {
		return err
	}
	if err := s.SQS.Send(ctx, s.QueueURL, string(end)); err != nil {
		return fmt.Errorf("recommendation simulator: syncEnd: %w", err)
	}
	return nil
}
