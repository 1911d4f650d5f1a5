package esclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/olivere/elastic/v7"
)

// Doc is one document for a bulk write: the Elasticsearch _id and the
// source (anything encoding/json can marshal). Using a stable business id
// (not an auto-generated one) is what makes re-delivered messages overwrite
// instead of duplicating.
type Doc struct {
	ID     string
	Source any
}

// ItemError is the failure of one bulk item. Bulk requests succeed as a
// whole even when items fail (e.g. mapper_parsing_exception), so per-item
// failures must be reported explicitly or data is silently lost.
type ItemError struct {
	ID     string
	Type   string
	Reason string
	Status int
}

// Error formats the item failure for logs.
func (e ItemError) Error() string {
	return fmt.Sprintf("doc %q: %s (HTTP %d)", e.ID, joinNonEmpty(e.Type, e.Reason), e.Status)
}

// BulkResult summarises a bulk write: how many items succeeded (created,
// updated or noop) and which ones failed.
type BulkResult struct {
	Indexed int
	Failed  []ItemError
}

// BulkOption changes how a bulk write is sent.
type BulkOption func(*bulkConfig)

type bulkConfig struct {
	refresh   bool
	batchSize int
}

// WithRefresh sends ?refresh=true so the written documents are visible to
// Count/SearchIDs as soon as the call returns. Use it for small writes and
// tests; for a full rebuild prefer one Refresh at the end.
func WithRefresh() BulkOption { return func(c *bulkConfig) { c.refresh = true } }

// WithBatchSize splits docs into requests of at most n documents (default
// 1000), keeping each _bulk request well below http.max_content_length.
func WithBatchSize(n int) BulkOption {
	return func(c *bulkConfig) {
		if n > 0 {
			c.batchSize = n
		}
	}
}

// BulkIndex indexes docs into index with op "index", so a re-delivered doc
// overwrites the previous version instead of creating a duplicate (the
// "duplicates" complaint of the old sync). Per-item failures are returned in
// BulkResult.Failed; err is only set when a request as a whole fails. An
// empty docs slice is a no-op.
func (c *Client) BulkIndex(ctx context.Context, index string, docs []Doc, opts ...BulkOption) (BulkResult, error) {
	return c.bulk(ctx, "index", index, docs, opts, func(d Doc) (elastic.BulkableRequest, error) {
		return elastic.NewBulkIndexRequest().Id(d.ID).Doc(d.Source), nil
	})
}

// BulkUpsert partially updates docs by id (update with doc_as_upsert=true):
// fields present in Source replace the stored ones, other fields are kept,
// and a missing document is created from Source. This is how incremental
// (CDC) changes are applied without clobbering fields owned by other feeds.
// Every Doc needs an ID. Two writers updating one document at once (two
// consumers holding duplicates of one message) conflict on its version; the
// engine retries such an update itself (retry_on_conflict) instead of refusing it.
func (c *Client) BulkUpsert(ctx context.Context, index string, docs []Doc, opts ...BulkOption) (BulkResult, error) {
	return c.bulk(ctx, "update", index, docs, opts, func(d Doc) (elastic.BulkableRequest, error) {
		if d.ID == "" {
			return nil, errors.New("esclient: BulkUpsert needs a document id")
		}
		return elastic.NewBulkUpdateRequest().Id(d.ID).Doc(d.Source).DocAsUpsert(true).RetryOnConflict(upsertConflictRetries), nil
	})
}

// upsertConflictRetries is how often the engine retries a partial update whose document
// changed under it (a version conflict).
const upsertConflictRetries = 5

func (c *Client) bulk(ctx context.Context, op, index string, docs []Doc, opts []BulkOption,
	mk func(Doc) (elastic.BulkableRequest, error)) (BulkResult, error) {
	cfg := bulkConfig{batchSize: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	var out BulkResult
	for start := 0; start < len(docs); start += cfg.batchSize {
		end := min(start+cfg.batchSize, len(docs))
		svc := c.es.Bulk().Index(index)
		if cfg.refresh {
			svc = svc.Refresh("true")
		}
		for _, d := range docs[start:end] {
			r, err := mk(d)
			if err != nil {
				return out, err
			}
			svc = svc.Add(r)
		}
		res, err := svc.Do(ctx)
		if err != nil {
			return out, fmt.Errorf("esclient: bulk %s into %q (docs %d..%d): %w", op, index, start, end-1, err)
		}
		for _, item := range res.Items {
			for _, r := range item {
				if r == nil {
					continue
				}
				if r.Error != nil || r.Status < 200 || r.Status > 299 {
					ie := ItemError{ID: r.Id, Status: r.Status}
					if r.Error != nil {
						ie.Type, ie.Reason = r.Error.Type, r.Error.Reason
					}
					out.Failed = append(out.Failed, ie)
				} else {
					out.Indexed++
				}
			}
		}
	}
	return out, nil
}
