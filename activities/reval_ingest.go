package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// gmcState is shared by the GMC receivers.
type gmcState struct {
	mu          sync.Mutex
	end         *sqsclient.Message // the syncEnd, held undeleted until the phase is done
	announced   int64
	messages    atomic.Int64
	lastMessage atomic.Int64 // unix nanos
	// stop ends the receivers after their current receive; they store what they hold.
	stop atomic.Bool
}

// IngestGMC builds a gmcReferenceNumber → document map from the new build, then drains
// the GMC SQS queue with concurrent receivers: each summary is a partial update of every
// document with that GMC number, or a new document (id gmc-<number>) for a doctor TCS
// did not send. Messages are deleted only after the update was stored. The syncEnd is
// held (undeleted) until the queue has been quiet and, when it announced a count, that
// many doctors carry GMC data; an unordered queue may deliver doctors after the marker,
// and a crashed attempt's messages come back after their visibility timeout.
func (a *SyncIngestActivities) IngestGMC(ctx context.Context, in IngestInput) (IngestResult, error) {
	began := time.Now()
	p := resumeProgress(ctx)
	url, err := a.SQS.EnsureQueue(ctx, in.Queue)
	if err != nil {
		return IngestResult{}, err
	}
	byGMC := map[string][]string{}
	err = a.ES.Scan(ctx, in.Index, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		gmc := revalmsg.GMCNumberOf(src)
		if gmc != "" {
			byGMC[gmc] = append(byGMC[gmc], id)
		}
		return nil
	})
	if err != nil {
		return IngestResult{}, err
	}
	activity.RecordHeartbeat(ctx, p)

	st := &gmcState{announced: p.Announced}
	st.messages.Store(p.Messages)
	st.lastMessage.Store(time.Now().UnixNano())
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	receivers := a.Receivers
	if receivers <= 0 {
		receivers = 16
	}
	errs := make(chan error, receivers)
	var wg sync.WaitGroup
	for range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.receiveGMC(rctx, url, in.Index, byGMC, st); err != nil && rctx.Err() == nil {
				errs <- err
				cancel()
			}
		}()
	}
	quiet := in.Quiet
	if quiet <= 0 {
		quiet = 3 * time.Second
	}
	// A short tick: the phase ends within 200 ms of its last document being stored.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	// stopReceivers ends the receivers, gracefully (they store and delete what they hold) or
	// by cancelling them, and returns the first error one of them hit.
	stopReceivers := func(graceful bool) error {
		if graceful {
			st.stop.Store(true)
		} else {
			cancel()
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
	finish := func(err error) (IngestResult, error) {
		if rerr := stopReceivers(err == nil); rerr != nil {
			return IngestResult{}, rerr
		}
		return IngestResult{}, err
	}
	for {
		select {
		case <-rctx.Done():
			if err := stopReceivers(false); err != nil {
				return IngestResult{}, err
			}
			return IngestResult{}, ctx.Err()
		case <-tick.C:
		}
		st.mu.Lock()
		end, announced := st.end, st.announced
		st.mu.Unlock()
		p = ingestProgress{Messages: st.messages.Load(), Announced: announced}
		activity.RecordHeartbeat(ctx, p)
		silent := time.Since(time.Unix(0, st.lastMessage.Load()))
		if end == nil {
			if in.IdleTimeout > 0 && silent > in.IdleTimeout {
				_ = stopReceivers(false)
				return IngestResult{}, permanent(ErrSyncDataTimeout, nil,
					"no message on SQS queue %s for %s (%d doctors so far, no syncEnd): is the recommendation service answering gmcSyncStart?",
					in.Queue, silent.Round(time.Second), p.Messages)
			}
			continue
		}
		// Without an announced count only a quiet queue says the doctors are all in; with
		// one, the stored count says it (checked below) and waiting would only add time.
		if silent < quiet && (announced == 0 || st.messages.Load() < announced) {
			continue
		}
		if err := a.ES.Refresh(ctx, in.Index); err != nil {
			return finish(err)
		}
		withGMC, err := a.ES.CountQuery(ctx, in.Index, exists("existsInGmc"))
		if err != nil {
			return finish(err)
		}
		if announced > 0 && withGMC < announced {
			if in.IdleTimeout > 0 && silent > in.IdleTimeout {
				_ = stopReceivers(false)
				return IngestResult{}, permanent(ErrSyncIncomplete, nil,
					"SQS queue %s announced %d doctors, %d stored, and nothing more arrived for %s",
					in.Queue, announced, withGMC, silent.Round(time.Second))
			}
			continue // messages of a crashed attempt come back after their visibility timeout
		}
		if _, err := finish(nil); err != nil {
			return IngestResult{}, err
		}
		st.mu.Lock()
		end = st.end
		st.mu.Unlock()
		if err := a.SQS.Delete(ctx, url, []sqsclient.Message{*end}); err != nil {
			return IngestResult{}, err
		}
		if err := a.ES.Refresh(ctx, in.Index); err != nil {
			return IngestResult{}, err
		}
		if withGMC, err = a.ES.CountQuery(ctx, in.Index, exists("existsInGmc")); err != nil {
			return IngestResult{}, err
		}
		created, err := a.ES.CountQuery(ctx, in.Index, map[string]any{"bool": map[string]any{
			"must_not": []any{exists("tcsPersonId")}}})
		if err != nil {
			return IngestResult{}, err
		}
		return IngestResult{Messages: st.messages.Load(), Docs: withGMC, Announced: announced, Created: created,
			Attempt: activity.GetInfo(ctx).Attempt, Seconds: time.Since(began).Seconds()}, nil
	}
}

// receiveGMC is one receiver: receive, store, delete, until ctx ends.
func (a *SyncIngestActivities) receiveGMC(ctx context.Context, url, index string, byGMC map[string][]string, st *gmcState) error {
	const flushAt = 250
	var pending []sqsclient.Message
	var docs []esclient.Doc
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := a.store(ctx, index, docs, true); err != nil {
			return err
		}
		if err := a.SQS.Delete(ctx, url, pending); err != nil {
			return err
		}
		st.messages.Add(int64(len(pending)))
		pending, docs = pending[:0], docs[:0]
		return nil
	}
	// Long-poll only when the queue looked empty: some SQS servers (local-aws-sqs) hold a
	// long poll for its whole wait when fewer messages than asked for are available.
	wait := time.Second
	for ctx.Err() == nil && !st.stop.Load() {
		msgs, err := a.SQS.Receive(ctx, url, sqsclient.MaxBatch, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wait = time.Second
		if len(msgs) > 0 {
			st.lastMessage.Store(time.Now().UnixNano())
			wait = 0
		}
		for _, m := range msgs {
			msg, err := revalmsg.ParseIndexSync([]byte(m.Body))
			if err != nil {
				return permanent(ErrMalformedMessage, err, "SQS message %s is not an IndexSyncMessage of a RevalidationSummaryDto: %v", m.ID, err)
			}
			if msg.SyncEnd {
				st.mu.Lock()
				mm := m
				st.end, st.announced = &mm, msg.Count
				st.mu.Unlock()
				continue
			}
			gmc := msg.Payload.Doctor.GMCReferenceNumber
			src := revalmsg.GMCDoc(*msg.Payload)
			ids := byGMC[gmc]
			if len(ids) == 0 {
				ids = []string{revalmsg.GMCOnlyDocID(gmc)}
			}
			for _, id := range ids {
				docs = append(docs, esclient.Doc{ID: id, Source: src})
			}
			pending = append(pending, m)
		}
		if len(pending) >= flushAt || (len(msgs) == 0 && len(pending) > 0) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if ctx.Err() != nil {
		// Cancelled: what was received but not stored stays in the queue and comes back
		// after its visibility timeout.
		return nil
	}
	return flush()
}
