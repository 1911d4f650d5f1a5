package esclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/olivere/elastic/v7"
)

// AliasAction is one action of an atomic alias switch.
//
// Add=true adds Alias to Index (with the optional Filter, a query DSL
// object); Add=false removes Alias from Index. RemoveIndex=true (Alias
// ignored) deletes the concrete index Index inside the same atomic request:
// this is the documented way to replace a legacy concrete index by an alias
// of the same name without a
// moment where the name does not resolve.
type AliasAction struct {
	Add         bool
	Index       string
	Alias       string
	Filter      map[string]any
	RemoveIndex bool
}

// rawQuery lets a map be used as an olivere Query (alias filters).
type rawQuery map[string]any

func (q rawQuery) Source() (interface{}, error) { return map[string]any(q), nil }

// SwitchAliases applies all actions in ONE POST /_aliases request.
// Elasticsearch applies the actions of one request atomically: either all
// are applied or none (e.g. when an index is missing), and searches never
// observe a moment where an alias is missing or points to both or neither
// build. This is the whole point of the blue/green rebuild: the UI keeps
// reading through the aliases during and after the switch.
func (c *Client) SwitchAliases(ctx context.Context, actions []AliasAction) error {
	if len(actions) == 0 {
		return errors.New("esclient: SwitchAliases: no actions")
	}
	mustExist, err := c.removeMustExist(ctx)
	if err != nil {
		return err
	}
	if !mustExist {
		if err := c.checkRemovesExist(ctx, actions); err != nil {
			return err
		}
	}
	svc := c.es.Alias()
	for i, a := range actions {
		if a.Index == "" {
			return fmt.Errorf("esclient: SwitchAliases: action %d has no index", i)
		}
		switch {
		case a.RemoveIndex:
			svc = svc.Action(elastic.NewAliasRemoveIndexAction(a.Index))
		case a.Alias == "":
			return fmt.Errorf("esclient: SwitchAliases: action %d has no alias", i)
		case a.Add:
			act := elastic.NewAliasAddAction(a.Alias).Index(a.Index)
			if a.Filter != nil {
				act = act.Filter(rawQuery(a.Filter))
			}
			svc = svc.Action(act)
		case mustExist:
			svc = svc.Action(removeMustExist{index: a.Index, alias: a.Alias})
		default:
			svc = svc.Action(elastic.NewAliasRemoveAction(a.Alias).Index(a.Index))
		}
	}
	res, err := svc.Do(ctx)
	if err != nil {
		return fmt.Errorf("esclient: switch aliases (%d actions): %w", len(actions), err)
	}
	if !res.Acknowledged {
		return fmt.Errorf("esclient: switch aliases (%d actions): not acknowledged", len(actions))
	}
	return nil
}

// removeMustExist is a remove action that fails the whole request when the alias is not on
// the index. OpenSearch 2 (and Elasticsearch 7.10, which it forked from) silently skip a
// remove of a missing alias when another action of the same request touches an alias, so a
// switch racing with someone else's could leave an alias on two builds; "must_exist": true
// makes them refuse it (aliases_not_found_exception, 404) as Elasticsearch 7.11+ does too.
type removeMustExist struct{ index, alias string }

func (r removeMustExist) Source() (interface{}, error) {
	return map[string]any{"remove": map[string]any{"index": r.index, "alias": r.alias, "must_exist": true}}, nil
}

// removeMustExist reports whether the engine accepts "must_exist" on a remove action:
// OpenSearch (every 2.x) and Elasticsearch from 7.11; Elasticsearch 7.10 and older refuse the
// unknown field, so there the plain remove is sent (and the silent skip above remains).
func (c *Client) removeMustExist(ctx context.Context) (bool, error) {
	c.distMu.Lock()
	defer c.distMu.Unlock()
	if c.dist == "" {
		d, v, err := c.Distribution(ctx)
		if err != nil {
			return false, err // asked again next time
		}
		c.dist, c.distVersion = d, v
	}
	if c.dist == DistributionOpenSearch {
		return true, nil
	}
	var major, minor int
	if _, err := fmt.Sscanf(c.distVersion, "%d.%d", &major, &minor); err != nil {
		return false, fmt.Errorf("esclient: %s answered an unreadable version %q", c.url, c.distVersion)
	}
	return major > 7 || (major == 7 && minor >= 11), nil
}

// checkRemovesExist does before the request what must_exist does inside it, for engines that
// lack it (Elasticsearch 7.10 and older): every alias to remove must be on its index now. A
// concurrent change between this check and the request is not caught there.
func (c *Client) checkRemovesExist(ctx context.Context, actions []AliasAction) error {
	for _, a := range actions {
		if a.Add || a.RemoveIndex || a.Alias == "" {
			continue
		}
		on, err := c.AliasIndices(ctx, a.Alias)
		if err != nil {
			return err
		}
		if !slices.Contains(on, a.Index) {
			return fmt.Errorf("esclient: switch aliases (%d actions): %w", len(actions), &elastic.Error{
				Status: http.StatusNotFound,
				Details: &elastic.ErrorDetails{Type: "aliases_not_found_exception",
					Reason: fmt.Sprintf("alias [%s] is not on index [%s]; nothing was changed", a.Alias, a.Index)},
			})
		}
	}
	return nil
}

// AliasIndices returns the sorted names of the indices alias points to
// (GET /_alias/<alias>). A missing alias is not an error: it returns an
// empty slice, because "no index yet" is a normal state before the first
// rebuild and the runbook must decide what to do.
func (c *Client) AliasIndices(ctx context.Context, alias string) ([]string, error) {
	res, err := c.es.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method:       http.MethodGet,
		Path:         "/_alias/" + url.PathEscape(alias),
		IgnoreErrors: []int{http.StatusNotFound},
	})
	if err != nil {
		return nil, fmt.Errorf("esclient: get alias %q: %w", alias, err)
	}
	if res.StatusCode == http.StatusNotFound {
		// Missing alias: {"error":"alias [x] missing","status":404}. A 404
		// with a structured error (e.g. index_not_found_exception) would
		// be something else and is reported.
		var body struct {
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(res.Body, &body) == nil && len(body.Error) > 0 && body.Error[0] == '"' {
			return []string{}, nil
		}
		return nil, fmt.Errorf("esclient: get alias %q: HTTP 404: %s", alias, res.Body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &m); err != nil {
		return nil, fmt.Errorf("esclient: get alias %q: decode: %w", alias, err)
	}
	out := make([]string, 0, len(m))
	for idx := range m {
		out = append(out, idx)
	}
	sort.Strings(out)
	return out, nil
}

// IndexInfo describes one concrete index for housekeeping (which old builds
// to delete). Docs is _cat/indices' docs.count: Lucene documents of the
// refreshed segments, which counts each nested object as a document too; use Count for the number of top-level documents.
type IndexInfo struct {
	Name         string
	CreationDate time.Time
	Docs         int64
}

// ListIndices lists the concrete indices matching pattern (e.g.
// "builds-*") sorted by creation date, oldest first (ties by
// name), via GET /_cat/indices/<pattern>?format=json. The runbook uses it to
// keep the newest builds and delete older ones; creation date, not the name,
// is authoritative (same rule as the Java ElasticsearchIndexService). A
// pattern that matches nothing returns an empty slice.
func (c *Client) ListIndices(ctx context.Context, pattern string) ([]IndexInfo, error) {
	rows, err := c.es.CatIndices().Index(pattern).Columns("index", "creation.date", "docs.count").Do(ctx)
	if err != nil {
		if IsNotFound(err) {
			return []IndexInfo{}, nil
		}
		return nil, fmt.Errorf("esclient: list indices %q: %w", pattern, err)
	}
	out := make([]IndexInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, IndexInfo{Name: r.Index, CreationDate: time.UnixMilli(r.CreationDate).UTC(), Docs: int64(r.DocsCount)})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreationDate.Equal(out[j].CreationDate) {
			return out[i].CreationDate.Before(out[j].CreationDate)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
