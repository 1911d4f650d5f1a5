package esclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/olivere/elastic/v7"
)

// CountQuery counts the documents of an index or alias matching a query DSL object, e.g.
// {"exists":{"field":"existsInGmc"}}: how the sync reconciles what each producer
// delivered with what the index holds. A missing index satisfies IsNotFound.
func (c *Client) CountQuery(ctx context.Context, indexOrAlias string, query map[string]any) (int64, error) {
	n, err := c.es.Count(indexOrAlias).Query(rawQuery(query)).Do(ctx)
	if err != nil {
		return 0, fmt.Errorf("esclient: count %q with a query: %w", indexOrAlias, err)
	}
	return n, nil
}

// Scan calls fn for every document of an index or alias, with only the listed source
// fields, using the scroll API (a consistent snapshot, pageSize hits per request). The
// sync uses it to map GMC numbers to document ids over hundreds of thousands of doctors
// in one pass. An error from fn stops the scan and is returned; a missing index
// satisfies IsNotFound.
func (c *Client) Scan(ctx context.Context, index string, fields []string, pageSize int, fn func(id string, source json.RawMessage) error) error {
	if pageSize <= 0 {
		pageSize = 1000
	}
	svc := c.es.Scroll(index).Size(pageSize).KeepAlive("2m").
		FetchSourceContext(elastic.NewFetchSourceContext(true).Include(fields...))
	defer func() { _ = svc.Clear(context.Background()) }()
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
