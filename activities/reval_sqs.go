package activities

import (
	"context"
	"encoding/json"
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
// reval.GMCSyncQueue(env). The queue outlives runs, so before gmcSyncStart the
// queue is cleared (ClearGMCQueue) and the ingest (IngestGMC) deletes unread whatever SQS
// accepted before that instant: another run's summaries or syncEnd can never end this run's
// phase, nor be counted or stored in its build.

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
	byGMC, err := a.documentsByGMC(ctx, in.Index)
	if err != nil {
		return IngestResult{}, err
	}
	activity.RecordHeartbeat(ctx, p)
	g := a.startGMCReceivers(ctx, in, url, byGMC, p)
	defer g.cancel()
	quiet := in.Quiet
	if quiet <= 0 {
		quiet = 3 * time.Second
	}
	// A short tick: the phase ends within 200 ms of its last document being stored.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-g.ctx.Done():
			if err := g.stop(false); err != nil {
				return IngestResult{}, err
			}
			return IngestResult{}, ctx.Err()
		case <-tick.C:
		}
		done, err := g.ready(ctx, quiet)
		if err != nil {
			return IngestResult{}, err
		}
		if done {
			return g.complete(ctx, began)
		}
	}
}

// documentsByGMC maps every GMC number of the build to the ids of its documents.
func (a *SQSActivities) documentsByGMC(ctx context.Context, index string) (map[string][]string, error) {
	byGMC := map[string][]string{}
	err := a.Sink.Scan(ctx, index, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		if gmc := reval.GMCNumberOf(src); gmc != "" {
			byGMC[gmc] = append(byGMC[gmc], id)
		}
		return nil
	})
	return byGMC, err
}

// gmcRun is one IngestGMC attempt: its receivers and what they share.
type gmcRun struct {
	a   *SQSActivities
	in  IngestInput
	url string
	st  *gmcState
	// ctx is the receivers' context: cancelled when the activity's ends or a receiver fails.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
}

// startGMCReceivers starts the receivers, resuming the counters of an earlier attempt.
func (a *SQSActivities) startGMCReceivers(ctx context.Context, in IngestInput, url string, byGMC map[string][]string,
	p ingestProgress) *gmcRun {
	st := &gmcState{ends: map[string]sqsclient.Message{}, announced: p.Announced}
	st.messages.Store(p.Messages)
	st.stale.Store(p.Stale)
	st.lastMessage.Store(time.Now().UnixNano())
	rctx, cancel := context.WithCancel(ctx)
	g := &gmcRun{a: a, in: in, url: url, st: st, ctx: rctx, cancel: cancel, errs: make(chan error, a.receivers())}
	for range a.receivers() {
		g.wg.Go(func() {
			if err := a.receiveGMC(rctx, url, in, byGMC, st); err != nil && rctx.Err() == nil {
				g.errs <- err
				cancel()
			}
		})
	}
	return g
}

// stop ends the receivers, gracefully (they store and delete what they hold) or by
// cancelling them, and returns the first error one of them hit.
func (g *gmcRun) stop(graceful bool) error {
	if graceful {
		g.st.stop.Store(true)
	} else {
		g.cancel()
	}
	g.wg.Wait()
	select {
	case err := <-g.errs:
		return err
	default:
		return nil
	}
}

// fail stops the receivers after err; a receiver's own error comes first.
func (g *gmcRun) fail(err error) error {
	if rerr := g.stop(false); rerr != nil {
		return rerr
	}
	return err
}

// ready heartbeats the counts and says whether the phase is complete (the receivers then
// stopped gracefully). A producer silent too long ends it with a non-retryable error.
func (g *gmcRun) ready(ctx context.Context, quiet time.Duration) (bool, error) {
	st, in := g.st, g.in
	ends, announced := st.held()
	p := ingestProgress{Messages: st.messages.Load(), Announced: announced, Stale: st.stale.Load()}
	activity.RecordHeartbeat(ctx, p)
	silent := time.Since(time.Unix(0, st.lastMessage.Load()))
	if len(ends) == 0 {
		if in.IdleTimeout > 0 && silent > in.IdleTimeout {
			_ = g.stop(false)
			return false, permanent(ErrSyncDataTimeout, nil,
				"no message on SQS queue %s for %s (%d doctors so far, no syncEnd; %d stale messages of an earlier run dropped): "+
					"is the recommendation service answering gmcSyncStart?",
				in.Queue, silent.Round(time.Second), p.Messages, p.Stale)
		}
		return false, nil
	}
	// Without an announced count only a quiet queue says the doctors are all in; with
	// one, the stored count says it (checked below) and waiting would only add time.
	if silent < quiet && (announced == 0 || st.messages.Load() < announced) {
		return false, nil
	}
	if err := g.a.Sink.Refresh(ctx, in.Index); err != nil {
		return false, g.fail(err)
	}
	withGMC, err := g.a.Sink.CountQuery(ctx, in.Index, exists("existsInGmc"))
	if err != nil {
		return false, g.fail(err)
	}
	if announced > 0 && withGMC < announced {
		if in.IdleTimeout > 0 && silent > in.IdleTimeout {
			_ = g.stop(false)
			return false, permanent(ErrSyncIncomplete, nil,
				"SQS queue %s announced %d doctors, %d stored, and nothing more arrived for %s",
				in.Queue, announced, withGMC, silent.Round(time.Second))
		}
		return false, nil // messages of a crashed attempt come back after their visibility timeout
	}
	return true, g.stop(true)
}

// complete deletes the held syncEnds (a receiver may have taken another one meanwhile) and
// counts what the phase stored.
func (g *gmcRun) complete(ctx context.Context, began time.Time) (IngestResult, error) {
	sink, index := g.a.Sink, g.in.Index
	ends, announced := g.st.held()
	if err := g.a.SQS.Delete(ctx, g.url, ends); err != nil {
		return IngestResult{}, err
	}
	if err := sink.Refresh(ctx, index); err != nil {
		return IngestResult{}, err
	}
	withGMC, err := sink.CountQuery(ctx, index, exists("existsInGmc"))
	if err != nil {
		return IngestResult{}, err
	}
	created, err := sink.CountQuery(ctx, index, map[string]any{"bool": map[string]any{
		"must_not": []any{exists("tcsPersonId")}}})
	if err != nil {
		return IngestResult{}, err
	}
	return IngestResult{Messages: g.st.messages.Load(), Docs: withGMC, Announced: announced, Created: created,
		Stale: g.st.stale.Load(), Attempt: activity.GetInfo(ctx).Attempt, Seconds: time.Since(began).Seconds()}, nil
}

// take decodes one message of this run: a summary gives the partial update of every
// document with its GMC number (or of a new gmc-<number> document); a syncEnd is held in
// st (nil documents). fresh says whether the message is news: a syncEnd held already is
// not. A malformed message is refused by its SQS id, never its content.
func (st *gmcState) take(m sqsclient.Message, byGMC map[string][]string) (docs []esclient.Doc, fresh bool, err error) {
	msg, err := reval.ParseIndexSync([]byte(m.Body))
	if err != nil {
		return nil, false, permanent(ErrMalformedMessage, err, "SQS message %s is not an IndexSyncMessage of a RevalidationSummaryDto: %v", m.ID, err)
	}
	if msg.SyncEnd {
		st.mu.Lock()
		_, held := st.ends[m.ID]
		st.ends[m.ID] = m // the newest receipt handle deletes it
		st.announced = max(st.announced, msg.Count)
		st.mu.Unlock()
		// A held syncEnd comes back after every visibility timeout: not news, so it never
		// keeps a phase whose announced doctors are missing from going idle.
		return nil, !held, nil
	}
	gmc := msg.Payload.Doctor.GMCReferenceNumber
	src := reval.GMCDoc(*msg.Payload)
	ids := byGMC[gmc]
	if len(ids) == 0 {
		ids = []string{reval.GMCOnlyDocID(gmc)}
	}
	docs = make([]esclient.Doc, 0, len(ids))
	for _, id := range ids {
		docs = append(docs, esclient.Doc{ID: id, Source: src})
	}
	return docs, true, nil
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
			upd, fresh, err := st.take(m, byGMC)
			if err != nil {
				return err
			}
			if fresh {
				ours++
			}
			if upd != nil { // nil: a syncEnd, held undeleted
				docs = append(docs, upd...)
				pending = append(pending, m)
			}
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
