// Package esclient is the single place where opsflow talks to the search engine: Amazon
// OpenSearch Service / OpenSearch 2 in production (the revalidation seed's engine), or
// Elasticsearch 7, through olivere/elastic/v7.
//
// Every search-engine call the runbooks make (create a timestamped index, bulk-write it,
// count it, switch aliases to it in one request) goes through this small package, which
// knows no procedure's index, alias or field names (the revalidation sync's are in
// internal/reval), so that one contract test suite (contract_test.go) exercises each call
// against a real engine: the stack's OpenSearch in `make test`, any cluster via
// OPSFLOW_ES_URL. Where OpenSearch 2 and Elasticsearch 7 answer a call differently, the
// code handling it says so.
package esclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/olivere/elastic/v7"
)

// Client wraps an olivere/elastic client configured for a single
// Elasticsearch endpoint. It exists so that the set of Elasticsearch calls
// opsflow depends on is small, explicit and covered by the contract suite.
type Client struct {
	es  *elastic.Client
	url string
	// The engine behind url, asked once (GET /) when a call must differ between engines.
	distMu            sync.Mutex
	dist, distVersion string
}

// New returns a Client for the Elasticsearch node at rawURL.
//
// Sniffing and health checks are switched off because opsflow talks to a
// single endpoint (often behind a load balancer or a tunnel) whose node
// addresses are not reachable from the worker; with sniffing on, olivere
// would replace the URL with unreachable publish addresses. New does not
// contact the server (workers must be able to start while Elasticsearch is
// down); use Ping for a preflight check. Errors name the URL. Extra olivere
// options (basic auth, HTTP client, ...) may be passed in opts.
func New(rawURL string, opts ...elastic.ClientOptionFunc) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("esclient: invalid Elasticsearch URL %q: want http(s)://host:port", rawURL)
	}
	all := append([]elastic.ClientOptionFunc{
		elastic.SetURL(rawURL),
		elastic.SetSniff(false),
		elastic.SetHealthcheck(false),
	}, opts...)
	es, err := elastic.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("esclient: create client for %s: %w", redact(u), err)
	}
	return &Client{es: es, url: redact(u)}, nil
}

// redact drops credentials from a URL so it can be used in error messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// URL returns the endpoint (without credentials) this client talks to, so
// activities can report which cluster they acted on.
func (c *Client) URL() string { return c.url }

// Elastic exposes the underlying olivere client. It is an escape hatch for
// tests and diagnostics only: any call used by a runbook must be added to
// this package (and the contract suite) instead.
func (c *Client) Elastic() *elastic.Client { return c.es }

// Ping checks that the endpoint answers and returns the Elasticsearch version
// number. It exists as a runbook preflight step, so a wrong URL or a down
// cluster fails fast with an error that names the URL.
func (c *Client) Ping(ctx context.Context) (string, error) {
	info, code, err := c.es.Ping(c.url).Do(ctx)
	if err != nil {
		return "", fmt.Errorf("esclient: ping %s: %w", c.url, err)
	}
	if code != http.StatusOK || info == nil {
		return "", fmt.Errorf("esclient: ping %s: HTTP status %d", c.url, code)
	}
	return info.Version.Number, nil
}

// Distributions Distribution reports.
const (
	DistributionOpenSearch    = "opensearch"
	DistributionElasticsearch = "elasticsearch"
)

// Distribution says which engine answers and its version, so reports and the contract suite
// name what they ran against. OpenSearch answers GET / with version.distribution
// "opensearch"; Elasticsearch 7 has no such field (or, in 7.x builds, "default" /
// build_flavor), so anything else is Elasticsearch.
func (c *Client) Distribution(ctx context.Context) (dist, version string, err error) {
	res, err := c.es.PerformRequest(ctx, elastic.PerformRequestOptions{Method: http.MethodGet, Path: "/"})
	if err != nil {
		return "", "", fmt.Errorf("esclient: GET / on %s: %w", c.url, err)
	}
	var info struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if err := json.Unmarshal(res.Body, &info); err != nil {
		return "", "", fmt.Errorf("esclient: GET / on %s: %w", c.url, err)
	}
	if info.Version.Distribution == DistributionOpenSearch {
		return DistributionOpenSearch, info.Version.Number, nil
	}
	return DistributionElasticsearch, info.Version.Number, nil
}

// CreateIndex creates index name with the given body (settings and
// mappings). The index must be created with an explicit mapping before any
// document is written, otherwise Elasticsearch would auto-create it with a
// dynamic mapping. If the index already exists the returned error satisfies
// IsAlreadyExists, so a retried activity can treat it as done.
func (c *Client) CreateIndex(ctx context.Context, name string, body map[string]any) error {
	svc := c.es.CreateIndex(name)
	if body != nil {
		svc = svc.BodyJson(body)
	}
	res, err := svc.Do(ctx)
	if err != nil {
		return fmt.Errorf("esclient: create index %q: %w", name, err)
	}
	if !res.Acknowledged {
		return fmt.Errorf("esclient: create index %q: not acknowledged", name)
	}
	return nil
}

// DeleteIndex deletes a concrete index (used to drop old builds after a
// successful alias switch). Deleting a missing index returns an error that
// satisfies IsNotFound, so callers can make the deletion idempotent.
func (c *Client) DeleteIndex(ctx context.Context, name string) error {
	res, err := c.es.DeleteIndex(name).Do(ctx)
	if err != nil {
		return fmt.Errorf("esclient: delete index %q: %w", name, err)
	}
	if !res.Acknowledged {
		return fmt.Errorf("esclient: delete index %q: not acknowledged", name)
	}
	return nil
}

// IndexExists reports whether name exists (HEAD /<name>). Note that
// Elasticsearch also answers true when name is an alias.
func (c *Client) IndexExists(ctx context.Context, name string) (bool, error) {
	ok, err := c.es.IndexExists(name).Do(ctx)
	if err != nil {
		return false, fmt.Errorf("esclient: index exists %q: %w", name, err)
	}
	return ok, nil
}

// Refresh makes all writes to the index (or alias) visible to Count and
// SearchIDs; Elasticsearch only shows documents to searches after a refresh.
func (c *Client) Refresh(ctx context.Context, index string) error {
	if _, err := c.es.Refresh(index).Do(ctx); err != nil {
		return fmt.Errorf("esclient: refresh %q: %w", index, err)
	}
	return nil
}

// Count returns the number of (refreshed) documents in an index or alias.
// Through a filtered alias the alias filter applies, which is how the
// runbook verifies what a filtered alias shows after a switch. A
// missing index or alias returns an error satisfying IsNotFound.
func (c *Client) Count(ctx context.Context, indexOrAlias string) (int64, error) {
	n, err := c.es.Count(indexOrAlias).Do(ctx)
	if err != nil {
		return 0, fmt.Errorf("esclient: count %q: %w", indexOrAlias, err)
	}
	return n, nil
}

// SearchIDs returns the ids of the first size hits (match_all) and the exact
// total number of hits. It exists for spot checks and samples in runbook
// reports; the total is exact (track_total_hits) so it can be compared with
// source counts.
func (c *Client) SearchIDs(ctx context.Context, indexOrAlias string, size int) ([]string, int64, error) {
	res, err := c.es.Search(indexOrAlias).
		Query(elastic.NewMatchAllQuery()).
		Size(size).
		TrackTotalHits(true).
		FetchSource(false).
		Do(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("esclient: search %q: %w", indexOrAlias, err)
	}
	ids := make([]string, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		ids = append(ids, h.Id)
	}
	return ids, res.TotalHits(), nil
}

// esError extracts the Elasticsearch error from a (wrapped) error.
func esError(err error) *elastic.Error {
	var e *elastic.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsNotFound reports whether err means the index (or alias) does not exist:
// HTTP 404 or index_not_found_exception. It lets activities make deletes
// and lookups idempotent.
func IsNotFound(err error) bool {
	e := esError(err)
	if e == nil {
		return false
	}
	if e.Details != nil && e.Details.Type == "index_not_found_exception" {
		return true
	}
	return e.Status == http.StatusNotFound
}

// IsAlreadyExists reports whether err means the index already exists
// (resource_already_exists_exception), so a retried CreateIndex can be
// treated as success by the caller when it owns the index name.
func IsAlreadyExists(err error) bool {
	e := esError(err)
	if e == nil || e.Details == nil {
		return false
	}
	switch e.Details.Type {
	case "resource_already_exists_exception", "index_already_exists_exception":
		return true
	}
	return false
}

// ErrorType returns the Elasticsearch error type (e.g.
// "invalid_alias_name_exception") of err, or "" if err did not come from
// Elasticsearch. It exists so activities can classify non-retryable errors.
func ErrorType(err error) string {
	e := esError(err)
	if e == nil || e.Details == nil {
		return ""
	}
	return e.Details.Type
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ": ")
}
