package esclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/olivere/elastic/v7"
)

// CountQuery counts the documents of an index or alias matching a query DSL object, e.g.
// {"exists":{"field":"status"}}: how a runbook reconciles what each producer delivered
// with what the index holds. Through a filtered alias the alias filter applies as well. A
// nil query counts every document (as Count). A missing index satisfies IsNotFound.
func (c *Client) CountQuery(ctx context.Context, indexOrAlias string, query map[string]any) (int64, error) {
	if query == nil {
		return c.Count(ctx, indexOrAlias)
	}
	n, err := c.es.Count(indexOrAlias).Query(rawQuery(query)).Do(ctx)
	if err != nil {
		return 0, fmt.Errorf("esclient: count %q with a query: %w", indexOrAlias, err)
	}
	return n, nil
}

// maxScanPageSize is the largest page Scan asks for: Elasticsearch refuses scroll pages
// above index.max_result_window (10 000 by default).
const maxScanPageSize = 10000

// Scan calls fn once for every document of an index or alias (through a filtered alias,
// the documents the filter matches), with only the listed source fields (nil: the whole
// source). It uses the scroll API: one consistent snapshot taken at the first
// request, pageSize hits per request (default 1000, at most 10 000), in index
// order (sort by _doc, the cheapest order), and the scroll is cleared at the end. The
// sync uses it to map GMC numbers to document ids over hundreds of thousands of doctors
// in one pass; a search with from/size could not go past 10 000 hits. An error from fn
// stops the scan and is returned as is; other errors name the index, and a missing index
// satisfies IsNotFound.
func (c *Client) Scan(ctx context.Context, index string, fields []string, pageSize int, fn func(id string, source json.RawMessage) error) error {
	if pageSize <= 0 {
		pageSize = 1000
	}
	pageSize = min(pageSize, maxScanPageSize)
	svc := c.es.Scroll(index).Size(pageSize).KeepAlive("2m").
		FetchSourceContext(elastic.NewFetchSourceContext(true).Include(fields...))
	defer func() {
		// Free the search context even when ctx is done, but do not hang on it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = svc.Clear(cctx)
	}()
	for {
		res, err := svc.Do(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("esclient: scan %q: %w", index, err)
		}
		for _, h := range res.Hits.Hits {
			if err := fn(h.Id, h.Source); err != nil {
				return err
			}
		}
		if len(res.Hits.Hits) == 0 {
			return nil
		}
	}
}
