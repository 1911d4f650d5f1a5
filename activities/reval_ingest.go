package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/revalmsg"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// SyncIngestActivities move the producers' messages into the new build: TCS's
// ConnectionInfoDto stream from RabbitMQ and the GMC summaries from SQS. A message is
// acknowledged (RabbitMQ) or deleted (SQS) only after Elasticsearch accepted its
// document, and document ids come from the doctor, so a crash re-delivers and overwrites:
// nothing is lost, nothing duplicated.
type SyncIngestActivities struct {
	DialAMQP func() (*amqpx.Conn, error)
	SQS      *sqsclient.Client
	ES       *esclient.Client
	// BatchSize is the documents per bulk request (default 1000).
	BatchSize int
	// Receivers is the number of concurrent SQS receivers (default 16).
	Receivers int
}

func (a *SyncIngestActivities) receivers() int {
	if a.Receivers > 0 {
		return a.Receivers
	}
	return 16
}

// IngestInput says where to write and how long producers may stay silent.
type IngestInput struct {
	Index string `json:"index"`
	// Queue is the SQS queue name (GMC leg only).
	Queue string `json:"queue,omitempty"`
	// IdleTimeout is how long the queue may stay silent before the sync gives up.
	IdleTimeout time.Duration `json:"idleTimeout"`
	// Quiet is how long the GMC queue must stay silent after its syncEnd (unordered
	// queue: doctors may still arrive after the marker).
	Quiet time.Duration `json:"quiet,omitempty"`
	// NotBefore (GMC leg only) is when ClearGMCQueue emptied the queue, on the queue's own
	// clock: a message SQS accepted before it belongs to an earlier run and is deleted unread.
	// Zero (runs started before the clear existed) accepts every message.
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// IngestResult is what one phase consumed and stored.
type IngestResult struct {
	// Messages are doctor messages consumed (a re-delivery after a crash counts again).
	Messages int64 `json:"messages"`
	// Docs is the number of documents the phase owns in the index afterwards (exact:
	// counted in Elasticsearch, after a refresh).
	Docs int64 `json:"docs"`
	// Announced is the producer's count from its syncEnd, 0 when it sent none.
	Announced int64 `json:"announced"`
	// Created counts GMC doctors TCS did not send (GMC leg only).
	Created int64 `json:"created,omitempty"`
	// Stale counts messages of an earlier run that were deleted unread (GMC leg only):
	// sent before NotBefore, e.g. a summary a crashed receiver held while the queue was
	// cleared.
	Stale int64 `json:"stale,omitempty"`
	// Attempt is the activity attempt that finished (above 1 after a crash or retry).
	Attempt int32 `json:"attempt"`
	// Seconds is the wall time of that attempt, for throughput figures.
	Seconds float64 `json:"seconds"`
}

// ingestProgress is heartbeated; a retried attempt resumes its counters from it.
type ingestProgress struct {
	Messages  int64 `json:"messages"`
	Stored    int64 `json:"stored"`
	Announced int64 `json:"announced"`
	Stale     int64 `json:"stale,omitempty"`
}

func (a *SyncIngestActivities) batchSize() int {
	if a.BatchSize > 0 {
		return a.BatchSize
	}
	return 1000
}

func resumeProgress(ctx context.Context) ingestProgress {
	var p ingestProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	return p
}

// IngestConnections consumes reval.queue.connection.syncdata until TCS's syncEnd, bulk
// indexing each batch (document id = tcsPersonId) and acknowledging it only afterwards.
// It heartbeats its counts; after a crash the broker re-delivers what was not
// acknowledged and the retried attempt continues from the heartbeated counts.
func (a *SyncIngestActivities) IngestConnections(ctx context.Context, in IngestInput) (IngestResult, error) {
	began := time.Now()
	p := resumeProgress(ctx)
	conn, err := a.DialAMQP()
	if err != nil {
		return IngestResult{}, err
	}
	defer conn.Close()
	cons, err := conn.Consume(SyncDataQueue, 2*a.batchSize())
	if err != nil {
		return IngestResult{}, err
	}
	defer cons.Close()
	lastMessage := time.Now()
	for {
		batch, err := cons.Fill(ctx, a.batchSize(), time.Second, 100*time.Millisecond)
		if errors.Is(err, amqpx.ErrIdle) {
			activity.RecordHeartbeat(ctx, p)
			if silent := time.Since(lastMessage); in.IdleTimeout > 0 && silent > in.IdleTimeout {
				return IngestResult{}, permanent(ErrSyncDataTimeout, nil,
					"no message on %s for %s (%d doctors so far, no syncEnd): is TCS answering syncStart?",
					SyncDataQueue, silent.Round(time.Second), p.Messages)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return IngestResult{}, ctx.Err()
			}
			return IngestResult{}, err
		}
		lastMessage = time.Now()
		docs := make([]esclient.Doc, 0, len(batch))
		var end *amqp.Delivery
		for i := range batch {
			c, err := revalmsg.ParseConnection(batch[i].Body)
			if err != nil {
				return IngestResult{}, permanent(ErrMalformedMessage, err,
					"message %d on %s is not a ConnectionInfoDto: %v", p.Messages+int64(i)+1, SyncDataQueue, err)
			}
			if c.SyncEnd {
				end = &batch[i]
				p.Announced = c.Count
				break
			}
			docs = append(docs, esclient.Doc{ID: revalmsg.DocID(c.TCSPersonID), Source: revalmsg.ConnectionDoc(c)})
		}
		if err := a.store(ctx, in.Index, docs, false); err != nil {
			return IngestResult{}, err
		}
		p.Messages += int64(len(docs))
		p.Stored += int64(len(docs))
		if end == nil {
			if err := cons.Ack(batch[len(batch)-1]); err != nil {
				return IngestResult{}, fmt.Errorf("ack on %s: %w", SyncDataQueue, err)
			}
			activity.RecordHeartbeat(ctx, p)
			continue
		}
		// Count before acknowledging the syncEnd: once it is acknowledged nothing may
		// fail, or a retried attempt would wait for a marker that is gone.
		if err := a.ES.Refresh(ctx, in.Index); err != nil {
			return IngestResult{}, err
		}
		n, err := a.ES.CountQuery(ctx, in.Index, exists("tcsPersonId"))
		if err != nil {
			return IngestResult{}, err
		}
		if err := cons.Ack(*end); err != nil {
			return IngestResult{}, fmt.Errorf("ack syncEnd on %s: %w", SyncDataQueue, err)
		}
		return IngestResult{Messages: p.Messages, Docs: n, Announced: p.Announced,
			Attempt: activity.GetInfo(ctx).Attempt, Seconds: time.Since(began).Seconds()}, nil
	}
}

// store bulk-writes docs; a request failure is retryable (nothing was acknowledged), a
// document Elasticsearch refuses is not (retrying sends the same document again).
func (a *SyncIngestActivities) store(ctx context.Context, index string, docs []esclient.Doc, upsert bool) error {
	if len(docs) == 0 {
		return nil
	}
	write := a.ES.BulkIndex
	if upsert {
		write = a.ES.BulkUpsert
	}
	res, err := write(ctx, index, docs, esclient.WithBatchSize(a.batchSize()))
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return permanent(ErrBulkRejected, res.Failed[0], "index %s refused %d of %d documents, first: %v",
			index, len(res.Failed), len(docs), res.Failed[0])
	}
	return nil
}
