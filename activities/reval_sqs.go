package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// SQSActivities are the revalidation sync's SQS side, the GMC leg: clearing the GMC queue
// (reval.GMCSyncQueue) before gmcSyncStart and draining the recommendation service's answer
// into the new build.
type SQSActivities struct {
	SQS *sqsclient.Client
	// Sink is the search engine IngestGMC reads the new build's GMC numbers from and stores
	// the GMC summaries into; a message is deleted only after Sink accepted its update.
	Sink *esclient.Client
	// BatchSize is the documents per bulk request (default 1000).
	BatchSize int
	// Receivers is the number of concurrent SQS receivers (default 16).
	Receivers int
}

func (a *SQSActivities) receivers() int {
	if a.Receivers > 0 {
		return a.Receivers
	}
	return 16
}

// The GMC leg of the sync: the recommendation service answers gmcSyncStart with one
// IndexSyncMessage per doctor and a syncEnd on the SQS queue
// tis-revalidation-sync-gmc-queue-<env>. The queue outlives runs, so before gmcSyncStart the
// queue is cleared (ClearGMCQueue) and the ingest (IngestGMC) deletes unread whatever SQS
// accepted before that instant: another run's summaries or syncEnd can never end this run's
// phase, nor be counted or stored in its build.

// gmcMarkerPrefix starts the body of the marker ClearGMCQueue sends itself to read the
// queue's clock. It is never a revalidation message; a consumer deletes it unread.
const gmcMarkerPrefix = `{"opsflowClearMarker":`

// ClearGMCInput names the GMC queue.
type ClearGMCInput struct {
	Queue string `json:"queue"`
}

// GMCClearResult says what ClearGMCQueue removed and from when messages belong to this run.
type GMCClearResult struct {
	// Cleared counts the stale messages deleted (an earlier run's summaries and syncEnd).
	Cleared int64 `json:"cleared"`
	// NotBefore is the SentTimestamp SQS gave the clear's own marker: the queue's clock, in
	// milliseconds, at a moment when every earlier visible message was already there. It is
	// what IngestGMC compares SentTimestamps with, so the worker's clock never matters.
	NotBefore time.Time `json:"notBefore"`
}

// ClearGMCQueue empties the GMC queue before gmcSyncStart, so nothing an earlier run left
// (summaries, a syncEnd with an old count, a second answer to a retried gmcSyncStart) is read
// as this run's answer. It sends itself a marker, then receives and deletes until a long poll
// finds the queue empty, and returns the marker's SentTimestamp as NotBefore. It does not use
// SQS PurgeQueue: on AWS a purge runs for up to 60 s and may also delete the summaries the
// recommendation service sends meanwhile. Messages another consumer holds in flight (a crashed
// worker's) are not visible to the clear; they come back later and IngestGMC drops them by
// their SentTimestamp.
func (a *SQSActivities) ClearGMCQueue(ctx context.Context, in ClearGMCInput) (GMCClearResult, error) {
	var res GMCClearResult
	url, err := a.SQS.EnsureQueue(ctx, in.Queue)
	if err != nil {
		return res, err
	}
	info := activity.GetInfo(ctx)
	token, err := json.Marshal(fmt.Sprintf("%s/%s/%d", info.WorkflowExecution.RunID, info.ActivityID, info.Attempt))
	if err != nil {
		return res, err
	}
	marker := gmcMarkerPrefix + string(token) + "}"
	sentBy := time.Now().Truncate(time.Millisecond) // the worker's clock: a fallback only
	if err := a.SQS.Send(ctx, url, marker); err != nil {
		return res, err
	}
	var cleared atomic.Int64
	var mu sync.Mutex
	seen := false
	for round := 0; ; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, a.receivers())
		for range a.receivers() {
			wg.Go(func() {
				for {
					msgs, err := a.SQS.Receive(ctx, url, sqsclient.MaxBatch, time.Second)
					if err != nil {
						errs <- err
						return
					}
					if len(msgs) == 0 {
						return // a long poll found nothing visible
					}
					var n int64
					for _, m := range msgs {
						switch {
						case m.Body == marker:
							mu.Lock()
							seen, res.NotBefore = true, m.SentAt
							mu.Unlock()
						case !strings.HasPrefix(m.Body, gmcMarkerPrefix): // an earlier attempt's marker is not a message
							n++
						}
					}
					if err := a.SQS.Delete(ctx, url, msgs); err != nil {
						errs <- err
						return
					}
					activity.RecordHeartbeat(ctx, cleared.Add(n))
				}
			})
		}
		wg.Wait()
		select {
		case err := <-errs:
			return res, err
		default:
		}
		if seen {
			break
		}
		if round == 4 {
			return res, fmt.Errorf("clear SQS queue %s: the clear's own marker never came back (%d stale messages deleted so far)", in.Queue, cleared.Load())
		}
	}
	if res.NotBefore.IsZero() {
		res.NotBefore = sentBy // a server that does not report SentTimestamp
	}
	res.Cleared = cleared.Load()
	return res, nil
}

// gmcState is shared by the GMC receivers.
type gmcState struct {
	mu sync.Mutex
	// ends are the syncEnd messages received (by message id, latest receipt), held
	// undeleted until the phase is done. More than one: a retried gmcSyncStart answered twice.
	ends map[string]sqsclient.Message
	// announced is the largest count a syncEnd carried: a smaller duplicate can never end
	// the phase before every announced doctor is stored.
	announced   int64
	messages    atomic.Int64
	stale       atomic.Int64
	lastMessage atomic.Int64 // unix nanos of the last message of this run
	// stop ends the receivers after their current receive; they store what they hold.
	stop atomic.Bool
}

func (st *gmcState) held() (ends []sqsclient.Message, announced int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, m := range st.ends {
		ends = append(ends, m)
	}
	return ends, st.announced
}

// IngestGMC builds a gmcReferenceNumber → document map from the new build, then drains
// the GMC SQS queue with concurrent receivers: each summary is a partial update of every
// document with that GMC number, or a new document (id gmc-<number>) for a doctor TCS
// did not send. Messages are deleted only after the update was stored; messages SQS
// accepted before in.NotBefore are another run's and are deleted unread (counted as
// Stale). The syncEnd is held (undeleted) until the queue has been quiet and, when it
// announced a count, that many doctors carry GMC data; an unordered queue may deliver
// doctors after the marker, and a crashed attempt's messages come back after their
// visibility timeout.
func (a *SQSActivities) IngestGMC(ctx context.Context, in IngestInput) (IngestResult, error) {
	began := time.Now()
	p := resumeProgress(ctx)
	url, err := a.SQS.EnsureQueue(ctx, in.Queue)
	if err != nil {
		return IngestResult{}, err
	}
	byGMC := map[string][]string{}
	err = a.Sink.Scan(ctx, in.Index, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		gmc := reval.GMCNumberOf(src)
		if gmc != "" {
			byGMC[gmc] = append(byGMC[gmc], id)
		}
		return nil
	})
	if err != nil {
		return IngestResult{}, err
	}
	activity.RecordHeartbeat(ctx, p)

	st := &gmcState{ends: map[string]sqsclient.Message{}, announced: p.Announced}
	st.messages.Store(p.Messages)
	st.stale.Store(p.Stale)
	st.lastMessage.Store(time.Now().UnixNano())
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, a.receivers())
	var wg sync.WaitGroup
	for range a.receivers() {
		wg.Go(func() {
			if err := a.receiveGMC(rctx, url, in, byGMC, st); err != nil && rctx.Err() == nil {
				errs <- err
				cancel()
			}
		})
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
		ends, announced := st.held()
		p = ingestProgress{Messages: st.messages.Load(), Announced: announced, Stale: st.stale.Load()}
		activity.RecordHeartbeat(ctx, p)
		silent := time.Since(time.Unix(0, st.lastMessage.Load()))
		if len(ends) == 0 {
			if in.IdleTimeout > 0 && silent > in.IdleTimeout {
				_ = stopReceivers(false)
				return IngestResult{}, permanent(ErrSyncDataTimeout, nil,
					"no message on SQS queue %s for %s (%d doctors so far, no syncEnd; %d stale messages of an earlier run dropped): "+
						"is the recommendation service answering gmcSyncStart?",
					in.Queue, silent.Round(time.Second), p.Messages, p.Stale)
			}
			continue
		}
		// Without an announced count only a quiet queue says the doctors are all in; with
		// one, the stored count says it (checked below) and waiting would only add time.
		if silent < quiet && (announced == 0 || st.messages.Load() < announced) {
			continue
		}
		if err := a.Sink.Refresh(ctx, in.Index); err != nil {
			return finish(err)
		}
		withGMC, err := a.Sink.CountQuery(ctx, in.Index, exists("existsInGmc"))
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
		ends, announced = st.held() // a receiver may have taken another syncEnd meanwhile
		if err := a.SQS.Delete(ctx, url, ends); err != nil {
			return IngestResult{}, err
		}
		if err := a.Sink.Refresh(ctx, in.Index); err != nil {
			return IngestResult{}, err
		}
		if withGMC, err = a.Sink.CountQuery(ctx, in.Index, exists("existsInGmc")); err != nil {
			return IngestResult{}, err
		}
		created, err := a.Sink.CountQuery(ctx, in.Index, map[string]any{"bool": map[string]any{
			"must_not": []any{exists("tcsPersonId")}}})
		if err != nil {
			return IngestResult{}, err
		}
		return IngestResult{Messages: st.messages.Load(), Docs: withGMC, Announced: announced, Created: created,
			Stale: st.stale.Load(), Attempt: activity.GetInfo(ctx).Attempt, Seconds: time.Since(began).Seconds()}, nil
	}
}

// staleGMC says whether a message is not this run's: a clear's marker, or sent before
// notBefore. Both are milliseconds on the queue's clock, so a message sent in the same
// millisecond as the clear's marker counts as this run's. A message without SentTimestamp
// cannot be dated and is kept.
func staleGMC(m sqsclient.Message, notBefore time.Time) bool {
	if strings.HasPrefix(m.Body, gmcMarkerPrefix) {
		return true
	}
	return !notBefore.IsZero() && !m.SentAt.IsZero() && m.SentAt.Before(notBefore.Truncate(time.Millisecond))
}

// receiveGMC is one receiver: receive, store, delete, until ctx ends. It always long-polls
// (1 s): SQS (AWS, ElasticMQ) answers a long poll as soon as messages are available.
func (a *SQSActivities) receiveGMC(ctx context.Context, url string, in IngestInput, byGMC map[string][]string, st *gmcState) error {
	const flushAt = 250
	var pending, stale []sqsclient.Message
	var docs []esclient.Doc
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := store(ctx, a.Sink, in.Index, docs, true, a.BatchSize); err != nil {
			return err
		}
		if err := a.SQS.Delete(ctx, url, pending); err != nil {
			return err
		}
		st.messages.Add(int64(len(pending)))
		pending, docs = pending[:0], docs[:0]
		return nil
	}
	for ctx.Err() == nil && !st.stop.Load() {
		msgs, err := a.SQS.Receive(ctx, url, sqsclient.MaxBatch, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		stale = stale[:0]
		ours := 0
		for _, m := range msgs {
			if staleGMC(m, in.NotBefore) {
				stale = append(stale, m)
				continue
			}
			ours++
			msg, err := reval.ParseIndexSync([]byte(m.Body))
			if err != nil {
				return permanent(ErrMalformedMessage, err, "SQS message %s is not an IndexSyncMessage of a RevalidationSummaryDto: %v", m.ID, err)
			}
			if msg.SyncEnd {
				st.mu.Lock()
				st.ends[m.ID] = m
				st.announced = max(st.announced, msg.Count)
				st.mu.Unlock()
				continue
			}
			gmc := msg.Payload.Doctor.GMCReferenceNumber
			src := reval.GMCDoc(*msg.Payload)
			ids := byGMC[gmc]
			if len(ids) == 0 {
				ids = []string{reval.GMCOnlyDocID(gmc)}
			}
			for _, id := range ids {
				docs = append(docs, esclient.Doc{ID: id, Source: src})
			}
			pending = append(pending, m)
		}
		if ours > 0 {
			st.lastMessage.Store(time.Now().UnixNano())
		}
		if len(stale) > 0 {
			// Never stored, so deleted at once.
			if err := a.SQS.Delete(ctx, url, stale); err != nil {
				return err
			}
			st.stale.Add(int64(len(stale)))
		}
		// Store now unless the queue handed out a full batch (a backlog): at the producer's
		// pace holding documents back would only delay the end of the phase.
		if len(pending) >= flushAt || (len(msgs) < sqsclient.MaxBatch && len(pending) > 0) {
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
