package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/esclient"
)

// The two ingests of the revalidation sync (RabbitActivities.IngestConnections from TCS,
// SQSActivities.IngestGMC from the recommendation service) share their input, result,
// heartbeat and store: a message is acknowledged (RabbitMQ) or deleted (SQS) only after the
// search engine accepted its document, and document ids come from the doctor, so a crash
// re-delivers and overwrites: nothing is lost, nothing duplicated.

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

// batchSizeOr is the documents per bulk request: n, or 1000 when unset.
func batchSizeOr(n int) int {
	if n > 0 {
		return n
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

// store bulk-writes docs into the sink (the new build); a request failure is retryable (nothing was acknowledged), a
// document Elasticsearch refuses is not (retrying sends the same document again).
func store(ctx context.Context, sink *esclient.Client, index string, docs []esclient.Doc, upsert bool, batchSize int) error {
	if len(docs) == 0 {
		return nil
	}
	write := sink.BulkIndex
	if upsert {
		write = sink.BulkUpsert
	}
	res, err := write(ctx, index, docs, esclient.WithBatchSize(batchSizeOr(batchSize)))
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return permanent(ErrBulkRejected, res.Failed[0], "index %s refused %d of %d documents, first: %v",
			index, len(res.Failed), len(docs), res.Failed[0])
	}
	return nil
}
