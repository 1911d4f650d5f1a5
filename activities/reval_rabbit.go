package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
)

// RabbitActivities are the revalidation sync's RabbitMQ side: the commands it publishes on
// the services' exchange (reval.Topology), clearing stale syncData, and consuming TCS's
// syncData into the new build. Each call dials its own connection, so a broker restart
// between steps costs one retry, not a stuck worker.
type RabbitActivities struct {
	Dial func() (*amqpx.Conn, error)
	// Sink is the search engine IngestConnections stores the consumed doctors into (the new
	// build); a message is acknowledged only after Sink accepted its document.
	Sink *esclient.Client
	// BatchSize is the documents per bulk request (default 1000).
	BatchSize int
}

// CommandInput is one command to publish.
type CommandInput struct {
	RoutingKey string `json:"routingKey"`
	Command    string `json:"command"`
}

// PublishRevalCommand publishes a command and returns once the broker confirmed it; an
// unroutable command (no queue bound) is an error, never a silent drop.
func (a *RabbitActivities) PublishRevalCommand(ctx context.Context, in CommandInput) error {
	conn, err := a.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Declare(reval.Topology()); err != nil {
		return err
	}
	pub, err := conn.NewPublisher()
	if err != nil {
		return err
	}
	defer pub.Close()
	body, err := json.Marshal(in.Command)
	if err != nil {
		return err
	}
	return pub.Publish(ctx, reval.Exchange, in.RoutingKey, body)
}

// ClearResult says how many stale messages were dropped before the sync started.
type ClearResult struct {
	SyncData int `json:"syncData"`
}

// ClearSyncData empties reval.queue.connection.syncdata before syncStart: messages left
// by an earlier, aborted sync (including its syncEnd) would otherwise end this one early
// or mix old doctors in.
func (a *RabbitActivities) ClearSyncData(ctx context.Context) (ClearResult, error) {
	conn, err := a.Dial()
	if err != nil {
		return ClearResult{}, err
	}
	defer conn.Close()
	if err := conn.Declare(reval.Topology()); err != nil {
		return ClearResult{}, err
	}
	n, err := conn.Purge(reval.SyncDataQueue)
	if err != nil {
		return ClearResult{}, fmt.Errorf("purge %s: %w", reval.SyncDataQueue, err)
	}
	return ClearResult{SyncData: n}, nil
}

// IngestConnections consumes reval.queue.connection.syncdata until TCS's syncEnd, bulk
// indexing each batch (document id = tcsPersonId) and acknowledging it only afterwards.
// It heartbeats its counts; after a crash the broker re-delivers what was not
// acknowledged and the retried attempt continues from the heartbeated counts.
func (a *RabbitActivities) IngestConnections(ctx context.Context, in IngestInput) (IngestResult, error) {
	began := time.Now()
	p := resumeProgress(ctx)
	conn, err := a.Dial()
	if err != nil {
		return IngestResult{}, err
	}
	defer conn.Close()
	cons, err := conn.Consume(reval.SyncDataQueue, 2*batchSizeOr(a.BatchSize))
	if err != nil {
		return IngestResult{}, err
	}
	defer cons.Close()
	lastMessage := time.Now()
	for {
		batch, err := cons.Fill(ctx, batchSizeOr(a.BatchSize), time.Second, 100*time.Millisecond)
		if errors.Is(err, amqpx.ErrIdle) {
			activity.RecordHeartbeat(ctx, p)
			if silent := time.Since(lastMessage); in.IdleTimeout > 0 && silent > in.IdleTimeout {
				return IngestResult{}, permanent(ErrSyncDataTimeout, nil,
					"no message on %s for %s (%d doctors so far, no syncEnd): is TCS answering syncStart?",
					reval.SyncDataQueue, silent.Round(time.Second), p.Messages)
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
			c, err := reval.ParseConnection(batch[i].Body)
			if err != nil {
				return IngestResult{}, permanent(ErrMalformedMessage, err,
					"message %d on %s is not a ConnectionInfoDto: %v", p.Messages+int64(i)+1, reval.SyncDataQueue, err)
			}
			if c.SyncEnd {
				end = &batch[i]
				p.Announced = c.Count
				break
			}
			docs = append(docs, esclient.Doc{ID: reval.DocID(c.TCSPersonID), Source: reval.ConnectionDoc(c)})
		}
		if err := store(ctx, a.Sink, in.Index, docs, false, a.BatchSize); err != nil {
			return IngestResult{}, err
		}
		p.Messages += int64(len(docs))
		p.Stored += int64(len(docs))
		if end == nil {
			if err := cons.Ack(batch[len(batch)-1]); err != nil {
				return IngestResult{}, fmt.Errorf("ack on %s: %w", reval.SyncDataQueue, err)
			}
			activity.RecordHeartbeat(ctx, p)
			continue
		}
		// Count before acknowledging the syncEnd: once it is acknowledged nothing may
		// fail, or a retried attempt would wait for a marker that is gone.
		if err := a.Sink.Refresh(ctx, in.Index); err != nil {
			return IngestResult{}, err
		}
		n, err := a.Sink.CountQuery(ctx, in.Index, exists("tcsPersonId"))
		if err != nil {
			return IngestResult{}, err
		}
		if err := cons.Ack(*end); err != nil {
			return IngestResult{}, fmt.Errorf("ack syncEnd on %s: %w", reval.SyncDataQueue, err)
		}
		return IngestResult{Messages: p.Messages, Docs: n, Announced: p.Announced,
			Attempt: activity.GetInfo(ctx).Attempt, Seconds: time.Since(began).Seconds()}, nil
	}
}
