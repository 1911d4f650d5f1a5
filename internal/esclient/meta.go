package esclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/olivere/elastic/v7"
)

// IndexMeta returns the mapping _meta object of every index matching pattern (a name, a
// wildcard pattern or an alias), keyed by concrete index name; indices without _meta are
// absent. _meta is where a runbook records facts about an index that must outlive its own
// run (e.g. whether a build ever served): arbitrary index
// settings are refused by both OpenSearch 2 and Elasticsearch 7 ("unknown setting"), a
// mapping _meta is accepted by both. A pattern that matches nothing returns an empty map; a
// missing concrete index satisfies IsNotFound.
func (c *Client) IndexMeta(ctx context.Context, pattern string) (map[string]map[string]any, error) {
	res, err := c.es.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: http.MethodGet,
		Path:   "/" + url.PathEscape(pattern) + "/_mapping",
		Params: url.Values{"filter_path": []string{"*.mappings._meta"}},
	})
	if err != nil {
		return nil, fmt.Errorf("esclient: get mapping _meta of %q: %w", pattern, err)
	}
	var body map[string]struct {
		Mappings struct {
			Meta map[string]any `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		return nil, fmt.Errorf("esclient: get mapping _meta of %q: decode: %w", pattern, err)
	}
	out := make(map[string]map[string]any, len(body))
	for index, m := range body {
		if m.Mappings.Meta != nil {
			out[index] = m.Mappings.Meta
		}
	}
	return out, nil
}

// SetIndexMeta sets one top-level key of a concrete index's mapping _meta and keeps the
// others. The engine replaces _meta as a whole on a mapping update (PUT /<index>/_mapping
// {"_meta": ...}), so this reads it first; two writers racing on the same index can lose one
// update, which is why only one runbook step at a time writes a given index's _meta. A
// missing index satisfies IsNotFound.
func (c *Client) SetIndexMeta(ctx context.Context, index, key string, value any) error {
	all, err := c.IndexMeta(ctx, index)
	if err != nil {
		return err
	}
	meta := map[string]any{}
	for k, v := range all[index] {
		meta[k] = v
	}
	meta[key] = value
	res, err := c.es.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method: http.MethodPut,
		Path:   "/" + url.PathEscape(index) + "/_mapping",
		Body:   map[string]any{"_meta": meta},
	})
	if err != nil {
		return fmt.Errorf("esclient: set mapping _meta.%s of %q: %w", key, index, err)
	}
	var ack struct {
		Acknowledged bool `json:"acknowledged"`
	}
	if err := json.Unmarshal(res.Body, &ack); err != nil || !ack.Acknowledged {
		return fmt.Errorf("esclient: set mapping _meta.%s of %q: not acknowledged: %s", key, index, res.Body)
	}
	return nil
}
