// Package clarity is a client of the Clarity LIMS REST API v2 (XML over HTTP with basic
// auth): the few resources an exporter needs — a step's queue, artifacts, samples, projects —
// and routing an artifact out of a stage. It knows nothing about what the caller exports.
package clarity

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// XML namespaces of the Clarity API v2 documents.
const (
	NSQueue       = "http://genologics.com/ri/queue"
	NSArtifact    = "http://genologics.com/ri/artifact"
	NSSample      = "http://genologics.com/ri/sample"
	NSProject     = "http://genologics.com/ri/project"
	NSUserDefined = "http://genologics.com/ri/userdefined"
	NSRI          = "http://genologics.com/ri"
	NSRouting     = "http://genologics.com/ri/routing"
	NSException   = "http://genologics.com/ri/exception"
)

// maxDocument bounds a response body: Clarity documents are kilobytes; anything larger is
// not a document of the API.
const maxDocument = 16 << 20

// Client talks to one Clarity server. Every URI it follows (a document's next-page or a
// reference) must be on Base's scheme and host, so the credentials never go elsewhere.
type Client struct {
	base     *url.URL
	user     string
	password string
	http     *http.Client
}

// New returns a client of the Clarity server at base (e.g. https://lims.example.org, without
// /api/v2) logging in as user; hc nil means http.DefaultClient.
func New(base, user, password string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("clarity: base URL %q is not an http(s) URL", base)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, user: user, password: password, http: hc}, nil
}

// StatusError is an answer other than 2xx; Message is the Clarity exception's message when
// the body is one.
type StatusError struct {
	Method, URL string
	Code        int
	Message     string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("clarity: %s %s: HTTP %d", e.Method, e.URL, e.Code)
	if e.Code == http.StatusUnauthorized {
		msg += " (check the LIMS user and password)"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// IsNotFound tells a 404 (no such queue, artifact, sample or project) from other failures.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

// MalformedError is a 2xx answer that is not the document asked for (not XML, or another
// root element, or missing what every such document has). Retrying does not fix it.
type MalformedError struct {
	URL string
	Err error
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("clarity: %s: malformed document: %v", e.URL, e.Err)
}

func (e *MalformedError) Unwrap() error { return e.Err }

// resolve turns a path under /api/v2 or an absolute URI from a document into a URL on the
// client's server.
func (c *Client) resolve(ref string) (string, error) {
	u, err := c.base.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("clarity: reference %q is not a URI: %w", ref, err)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("clarity: reference %q is not on the LIMS server %s", ref, c.base.Host)
	}
	return u.String(), nil
}

// apiPath is {base}/api/v2/<kind>/<escaped id>.
func (c *Client) apiPath(kind, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("clarity: empty %s id", kind)
	}
	return c.resolve(c.base.Path + "/api/v2/" + kind + "/" + url.PathEscape(id))
}

// do sends one request and decodes a 2xx XML answer into out (nil: the body is dropped).
func (c *Client) do(ctx context.Context, method, target string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.user, c.password)
	req.Header.Set("Accept", "application/xml")
	if body != nil {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("clarity: %s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("clarity: %s %s: reading the answer: %w", method, target, err)
	}
	if resp.StatusCode/100 != 2 {
		var exc struct {
			Message string `xml:"message"`
		}
		_ = xml.Unmarshal(data, &exc)
		return &StatusError{Method: method, URL: target, Code: resp.StatusCode, Message: strings.TrimSpace(exc.Message)}
	}
	if out == nil {
		return nil
	}
	if len(data) > maxDocument {
		return &MalformedError{URL: target, Err: fmt.Errorf("larger than %d bytes", maxDocument)}
	}
	if err := xml.Unmarshal(data, out); err != nil {
		return &MalformedError{URL: target, Err: err}
	}
	return nil
}

// get fetches target into out and checks it is a document of root element name in namespace ns.
func (c *Client) get(ctx context.Context, target string, out any, root func() xml.Name, ns, name string) error {
	if err := c.do(ctx, http.MethodGet, target, nil, out); err != nil {
		return err
	}
	if got := root(); got.Space != ns || got.Local != name {
		return &MalformedError{URL: target, Err: fmt.Errorf("root element is {%s}%s, want {%s}%s", got.Space, got.Local, ns, name)}
	}
	return nil
}
