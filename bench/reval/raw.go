package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// Queue names and routing keys of the revalidation services (amqpx.RevalTopology), spelt
// out here so the raw client visibly depends on nothing of opsflow's sync code.
const (
	syncDataQueue   = reval.SyncDataQueue
	syncStartKey    = reval.SyncStartKey
	gmcSyncStartKey = reval.GMCSyncStartKey
	// gmcFlushAt is how many GMC messages a receiver holds before it stores and deletes them.
	gmcFlushAt = 250
	// fillLinger is how long the TCS consumer waits for a batch to fill once it has a message.
	fillLinger = 100 * time.Millisecond
)

// rawClient is the anchor the sync is compared with: a bare Go client doing the same job on
// the same queues and the same search engine, with nothing around it. It creates the index
// (reval.MasterDoctorMapping), publishes "syncStart", consumes the syncData doctors and
// bulk-indexes them (id = tcsPersonId), acknowledging after the store, until TCS's syncEnd;
// then publishes "gmcSyncStart", maps GMC numbers to document ids with one scan, and receives
// the GMC summaries with as many SQS receivers as the sync runs, bulk-upserting each as a
// partial document of every doctor with that number (or a new gmc-<number> document), deleting
// after the store, until the syncEnd's count is stored. No workflow, no heartbeats, no count
// checks, no alias switch: whatever the sync takes beyond this is opsflow's own cost. It uses
// internal/esclient, amqpx, sqsclient and reval, never opsflow's activities.
type rawClient struct {
	conn      *amqpx.Conn
	es        *esclient.Client
	sqs       *sqsclient.Client
	queueURL  string
	batch     int
	receivers int
	idle      time.Duration
}

// rawResult is what the bare client measured, and what it left in the index.
type rawResult struct {
	side
	Index                            string
	CreateSeconds                    float64
	TCSSeconds, GMCSeconds           float64
	TCSDocs, GMCMessages             int64
	Total, WithTCS, WithGMC, Created int64 // counted after the timing: documents, from TCS, with GMC data, GMC only
}

// run does the whole job, timed from the index creation to the GMC leg's last store made
// visible (a refresh); the counts are checked afterwards, untimed.
func (c *rawClient) run(ctx context.Context, doctors, gmcTotal int) (rawResult, error) {
	var res rawResult
	res.Index = reval.MasterDoctorIndexName(time.Now())
	pub, err := c.conn.NewPublisher()
	if err != nil {
		return res, err
	}
	defer pub.Close()
	began := time.Now()
	if err := c.es.CreateIndex(ctx, res.Index, reval.MasterDoctorMapping()); err != nil {
		return res, err
	}
	res.CreateSeconds = time.Since(began).Seconds()
	tcsBegan := time.Now()
	if res.TCSDocs, err = c.ingestTCS(ctx, pub, res.Index); err != nil {
		return res, fmt.Errorf("raw TCS leg: %w", err)
	}
	res.TCSSeconds = time.Since(tcsBegan).Seconds()
	say("raw: TCS leg %.1f s, %d doctors", res.TCSSeconds, res.TCSDocs)
	gmcBegan := time.Now()
	if res.GMCMessages, err = c.ingestGMC(ctx, pub, res.Index); err != nil {
		return res, fmt.Errorf("raw GMC leg: %w", err)
	}
	res.GMCSeconds = time.Since(gmcBegan).Seconds()
	res.Seconds = time.Since(began).Seconds()
	return res, c.verify(ctx, &res, doctors, gmcTotal)
}

// ingestTCS is the syncData leg: the consumer is ready before the command goes out, batches
// fill for up to fillLinger, each is decoded, bulk-indexed, then acknowledged. It ends with a
// refresh, which the scan of the GMC leg needs.
func (c *rawClient) ingestTCS(ctx context.Context, pub *amqpx.Publisher, index string) (int64, error) {
	cons, err := c.conn.Consume(reval.SyncDataQueue, 2*c.batch)
	if err != nil {
		return 0, err
	}
	defer cons.Close()
	if err := pub.Publish(ctx, reval.Exchange, reval.SyncStartKey, []byte(`"`+reval.SyncStartCommand+`"`)); err != nil {
		return 0, err
	}
	var stored, announced int64
	lastMessage := time.Now()
	for done := false; !done; {
		msgs, err := cons.Fill(ctx, c.batch, time.Second, fillLinger)
		if errors.Is(err, amqpx.ErrIdle) {
			if time.Since(lastMessage) > c.idle {
				return stored, fmt.Errorf("nothing on %s for %s after %d doctors", reval.SyncDataQueue, c.idle, stored)
			}
			continue
		}
		if err != nil {
			return stored, err
		}
		lastMessage = time.Now()
		docs := make([]esclient.Doc, 0, len(msgs))
		for _, m := range msgs {
			ci, err := reval.ParseConnection(m.Body)
			if err != nil {
				return stored, fmt.Errorf("message %d: %w", stored+int64(len(docs))+1, err)
			}
			if ci.SyncEnd {
				done, announced = true, ci.Count
				continue
			}
			docs = append(docs, esclient.Doc{ID: reval.DocID(ci.TCSPersonID), Source: reval.ConnectionDoc(ci)})
		}
		if err := c.store(ctx, index, docs, false); err != nil {
			return stored, err
		}
		stored += int64(len(docs))
		if err := cons.Ack(msgs[len(msgs)-1]); err != nil {
			return stored, err
		}
	}
	if announced != stored {
		return stored, fmt.Errorf("%d doctors before the syncEnd, which announced %d", stored, announced)
	}
	return stored, c.es.Refresh(ctx, index)
}

// store bulk-writes docs (upsert: partial documents, created when missing); a document the
// engine refuses is an error, as data lost.
func (c *rawClient) store(ctx context.Context, index string, docs []esclient.Doc, upsert bool) error {
	if len(docs) == 0 {
		return nil
	}
	write := c.es.BulkIndex
	if upsert {
		write = c.es.BulkUpsert
	}
	res, err := write(ctx, index, docs, esclient.WithBatchSize(c.batch))
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%s refused %d of %d documents, first: %v", index, len(res.Failed), len(docs), res.Failed[0])
	}
	return nil
}

// rawGMC is shared by the GMC receivers.
type rawGMC struct {
	byGMC     map[string][]string // GMC number → document ids, read-only once built
	stored    atomic.Int64        // doctor messages stored and deleted
	announced atomic.Int64        // the syncEnd's count, 0 until it was received
	last      atomic.Int64        // unix nanos of the last non-empty receive
}

func (g *rawGMC) finished() bool {
	n := g.announced.Load()
	return n > 0 && g.stored.Load() >= n
}

// ingestGMC is the GMC leg: the command goes out first (the producer starts while the map
// is built), then one scan maps GMC numbers to ids, then the receivers drain the queue until
// the syncEnd's count is stored; a refresh makes the last updates visible.
func (c *rawClient) ingestGMC(ctx context.Context, pub *amqpx.Publisher, index string) (int64, error) {
	if err := pub.Publish(ctx, reval.Exchange, reval.GMCSyncStartKey, []byte(revalsim.GMCSyncStart)); err != nil {
		return 0, err
	}
	g := &rawGMC{byGMC: map[string][]string{}}
	err := c.es.Scan(ctx, index, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		if n := reval.GMCNumberOf(src); n != "" {
			g.byGMC[n] = append(g.byGMC[n], id)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	g.last.Store(time.Now().UnixNano())
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range c.receivers {
		wg.Go(func() {
			if err := c.receiveGMC(rctx, index, g); err != nil && rctx.Err() == nil {
				cancel(err)
			}
			if g.finished() {
				cancel(nil) // ends the other receivers' long polls at once
			}
		})
	}
	wg.Wait()
	if !g.finished() {
		if err := context.Cause(rctx); err != nil && !errors.Is(err, context.Canceled) {
			return g.stored.Load(), err
		}
		return g.stored.Load(), ctx.Err()
	}
	return g.stored.Load(), c.es.Refresh(ctx, index)
}

// receiveGMC is one receiver: receive up to 10, decode, and every gmcFlushAt messages (or
// when the queue looks empty) bulk-upsert their documents, then delete them.
func (c *rawClient) receiveGMC(ctx context.Context, index string, g *rawGMC) error {
	var pending []sqsclient.Message
	var docs []esclient.Doc
	doctors := int64(0)
	wait := time.Second // long-poll only after an empty receive, as the sync's receivers do
	for ctx.Err() == nil && !g.finished() {
		msgs, err := c.sqs.Receive(ctx, c.queueURL, sqsclient.MaxBatch, wait)
		if err != nil {
			return err
		}
		wait = 0
		if len(msgs) == 0 {
			wait = time.Second
			if silent := time.Since(time.Unix(0, g.last.Load())); silent > c.idle {
				return fmt.Errorf("nothing on SQS for %s after %d doctors", c.idle, g.stored.Load())
			}
		} else {
			g.last.Store(time.Now().UnixNano())
		}
		for _, m := range msgs {
			msg, err := reval.ParseIndexSync([]byte(m.Body))
			if err != nil {
				return fmt.Errorf("SQS message %s: %w", m.ID, err)
			}
			pending = append(pending, m)
			if msg.SyncEnd {
				if msg.Count <= 0 {
					return errors.New("the GMC syncEnd carries no count (the simulator always sends one)")
				}
				g.announced.Store(msg.Count)
				continue
			}
			doctors++
			ids := g.byGMC[msg.Payload.Doctor.GMCReferenceNumber]
			if len(ids) == 0 {
				ids = []string{reval.GMCOnlyDocID(msg.Payload.Doctor.GMCReferenceNumber)}
			}
			src := reval.GMCDoc(*msg.Payload)
			for _, id := range ids {
				docs = append(docs, esclient.Doc{ID: id, Source: src})
			}
		}
		if len(pending) >= gmcFlushAt || (len(msgs) == 0 && len(pending) > 0) || (g.announced.Load() > 0 && len(pending) > 0) {
			if err := c.store(ctx, index, docs, true); err != nil {
				return err
			}
			if err := c.sqs.Delete(ctx, c.queueURL, pending); err != nil {
				return err
			}
			g.stored.Add(doctors)
			pending, docs, doctors = pending[:0], docs[:0], 0
		}
	}
	return nil
}

// verify counts what the raw side left in the index (untimed): every doctor exactly once, or
// the figures do not count.
func (c *rawClient) verify(ctx context.Context, res *rawResult, doctors, gmcTotal int) error {
	if err := c.es.Refresh(ctx, res.Index); err != nil {
		return err
	}
	var err error
	if res.Total, err = c.es.Count(ctx, res.Index); err != nil {
		return err
	}
	exists := func(field string) map[string]any { return map[string]any{"exists": map[string]any{"field": field}} }
	if res.WithTCS, err = c.es.CountQuery(ctx, res.Index, exists("tcsPersonId")); err != nil {
		return err
	}
	if res.WithGMC, err = c.es.CountQuery(ctx, res.Index, exists("existsInGmc")); err != nil {
		return err
	}
	res.Created = res.Total - res.WithTCS
	if res.Total != int64(gmcTotal) || res.WithTCS != int64(doctors) || res.WithGMC != int64(gmcTotal) {
		return fmt.Errorf("raw side left %d documents (%d from TCS, %d with GMC data), want %d (%d, %d)",
			res.Total, res.WithTCS, res.WithGMC, gmcTotal, doctors, gmcTotal)
	}
	return nil
}
