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

	"github.com/opsflow/opsflow/internal/sqsclient"
)

// SQSActivities.ClearGMCQueue: the GMC queue emptied of an earlier run's messages before
// gmcSyncStart, dated on the queue's own clock (see reval_sqs.go for the leg).

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
