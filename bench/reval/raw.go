package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// Queue names and routing keys of the revalidation services (amqpx.RevalTopology), spelt
// out here so the raw client visibly depends on nothing of opsflow's sync code.
const (
	syncDataQueue   = "reval.queue.connection.syncdata"
	syncStartKey    = "reval.connection.syncstart"
	gmcSyncStartKey = "reval.recommendation.syncstart"
)

// syncEndMarker is how the bare client recognises the end marker of either leg without
// decoding JSON: doctor messages never carry it, and decoding is work the sync does and the
// floor must not.
var syncEndMarker = []byte(`"syncEnd":true`)

// rawResult is what the bare client measured.
type rawResult struct {
	TCSSeconds, GMCSeconds, TotalSeconds float64
	TCSMessages, GMCMessages             int64
	Backlog                              backlog
	CPU                                  cpuUse
}

// rawDrain is the floor the sync is compared with: the same simulators answer the same
// commands on the same queues, and a bare client only publishes the command, consumes and
// acknowledges (RabbitMQ) or receives and deletes (SQS). Whatever the sync takes beyond this
// is opsflow's own cost: decoding, bulk indexing, heartbeats, the workflow's other steps.
func rawDrain(ctx context.Context, conn *amqpx.Conn, sqs *sqsclient.Client, queueURL string, doctors, gmcTotal, batch, receivers int,
	idle time.Duration) (rawResult, error) {
	var res rawResult
	pub, err := conn.NewPublisher()
	if err != nil {
		return res, err
	}
	defer pub.Close()
	exchange := amqpx.RevalTopology().Exchange

	// TCS leg: the consumer is ready before the command goes out, like the sync's ingest.
	cons, err := conn.Consume(syncDataQueue, 2*batch)
	if err != nil {
		return res, err
	}
	defer cons.Close()
	began := time.Now()
	if err := pub.Publish(ctx, exchange, syncStartKey, []byte(`"syncStart"`)); err != nil {
		return res, err
	}
	lastMessage := time.Now()
	for done := false; !done; {
		msgs, err := cons.Batch(ctx, batch, time.Second)
		if errors.Is(err, amqpx.ErrIdle) {
			if time.Since(lastMessage) > idle {
				return res, fmt.Errorf("raw TCS leg: nothing on %s for %s after %d doctors", syncDataQueue, idle, res.TCSMessages)
			}
			continue
		}
		if err != nil {
			return res, err
		}
		lastMessage = time.Now()
		for _, m := range msgs {
			if bytes.Contains(m.Body, syncEndMarker) {
				done = true
				continue
			}
			res.TCSMessages++
		}
		if err := cons.Ack(msgs[len(msgs)-1]); err != nil {
			return res, err
		}
	}
	tcsDone := time.Now()
	res.TCSSeconds = tcsDone.Sub(began).Seconds()
	say("raw drain: TCS leg %.1f s", res.TCSSeconds)
	if res.TCSMessages != int64(doctors) {
		return res, fmt.Errorf("raw TCS leg: %d doctors before syncEnd, want %d", res.TCSMessages, doctors)
	}

	// GMC leg: concurrent receivers, each receive 10 then delete them, until the syncEnd was
	// seen and every doctor was deleted.
	if err := pub.Publish(ctx, exchange, gmcSyncStartKey, []byte(revalsim.GMCSyncStart)); err != nil {
		return res, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var deleted atomic.Int64
	var sawEnd atomic.Bool
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	finished := func() bool { return sawEnd.Load() && deleted.Load() >= int64(gmcTotal) }
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			// Long-poll only after an empty receive: local-aws-sqs holds a long poll for
			// its whole wait when fewer messages than asked for are available (the sync's
			// receivers do the same).
			wait := time.Second
			for rctx.Err() == nil && !finished() {
				msgs, err := sqs.Receive(rctx, queueURL, sqsclient.MaxBatch, wait)
				if err != nil {
					if rctx.Err() == nil {
						cancel(err)
					}
					return
				}
				if len(msgs) == 0 {
					wait = time.Second
					if time.Since(time.Unix(0, last.Load())) > idle {
						cancel(fmt.Errorf("raw GMC leg: nothing on SQS for %s after %d doctors", idle, deleted.Load()))
					}
					continue
				}
				wait = 0
				last.Store(time.Now().UnixNano())
				n := int64(0)
				end := false
				for _, m := range msgs {
					if bytes.Contains([]byte(m.Body), syncEndMarker) {
						end = true
					} else {
						n++
					}
				}
				if err := sqs.Delete(rctx, queueURL, msgs); err != nil {
					cancel(err)
					return
				}
				deleted.Add(n)
				if end {
					sawEnd.Store(true)
				}
				if finished() {
					cancel(nil) // ends the other receivers' long polls at once
				}
			}
		})
	}
	wg.Wait()
	if !finished() {
		if err := context.Cause(rctx); err != nil {
			return res, err
		}
		return res, ctx.Err()
	}
	end := time.Now()
	res.GMCMessages = deleted.Load()
	res.GMCSeconds = end.Sub(tcsDone).Seconds()
	res.TotalSeconds = end.Sub(began).Seconds()
	if res.GMCMessages != int64(gmcTotal) {
		return res, fmt.Errorf("raw GMC leg: %d doctors deleted, want %d", res.GMCMessages, gmcTotal)
	}
	return res, nil
}
