// Package gitlab fetches release artifacts from GitLab CI over the REST API v4: it finds
// the tag's pipeline, plays the (usually manual) artifact job, waits for it and downloads
// one file of its artifacts.
package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultPollInterval is how often WaitJob polls when Client.PollInterval is zero: CI jobs
// take minutes, so a slower poll spares the GitLab API.
const DefaultPollInterval = 10 * time.Second

// Client talks to one GitLab project. The zero HTTP means http.DefaultClient; deadlines
// come from the context, never from a client timeout that would cut long downloads.
type Client struct {
	// BaseURL is the GitLab root, e.g. https://gitlab.example.org.
	BaseURL string
	// Token is sent as PRIVATE-TOKEN; it needs read_api, and api to play jobs.
	Token string
	// Project is the numeric ID or the full path, e.g. "group/tsd-import".
	Project string
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// PollInterval is the pause between job polls in WaitJob; zero means
	// DefaultPollInterval.
	PollInterval time.Duration
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) pollInterval() time.Duration {
	if c.PollInterval > 0 {
		return c.PollInterval
	}
	return DefaultPollInterval
}

// projectURL builds the URL of a project resource. The project path is escaped as one
// segment (group%2Ftsd-import), as GitLab requires; url.Parse keeps that escaping in
// RawPath, so the %2F reaches the server intact.
func (c *Client) projectURL(suffix string, query url.Values) (*url.URL, error) {
	if c.BaseURL == "" {
		return nil, fmt.Errorf("gitlab: base URL is not set")
	}
	if c.Project == "" {
		return nil, fmt.Errorf("gitlab: project is not set")
	}
	raw := strings.TrimRight(c.BaseURL, "/") + "/api/v4/projects/" + url.PathEscape(c.Project) + suffix
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("gitlab: invalid base URL %q: %w", c.BaseURL, err)
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u, nil
}

// do sends a request and returns the response when its status is 2xx; otherwise it
// returns an *APIError and closes the body. accept, if not empty, is the Accept header.
func (c *Client) do(ctx context.Context, method string, u *url.URL, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("gitlab: %s %s: %w", method, u.Redacted(), err)
	}
	if c.Token != "" {
		req.Header.Set("PRIVATE-TOKEN", c.Token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("gitlab: %s %s: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, newAPIError(method, u, resp)
	}
	return resp, nil
}

// doJSON sends a request and decodes the JSON response into out, returning the response
// headers for pagination.
func (c *Client) doJSON(ctx context.Context, method string, u *url.URL, out any) (http.Header, error) {
	resp, err := c.do(ctx, method, u, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("gitlab: %s %s: decode response: %w", method, u.Redacted(), err)
	}
	// Drain so the connection can be reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header, nil
}
