// Package supervisor drives supervisord over its XML-RPC interface, the way an operator
// would with supervisorctl on each host: stop, start, and check a service stays up.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kolo/xmlrpc"
)

// DefaultTimeout bounds one call when New is given 0: long enough for a stop or start
// that waits out stopwaitsecs or startsecs, short enough to notice a hung host.
const DefaultTimeout = 30 * time.Second

// maxReply caps a reply body so a misbehaving server cannot exhaust memory.
const maxReply = 16 << 20

// Client talks to one supervisord (one per host in production). It is safe for
// concurrent use: each call is an independent HTTP request.
type Client struct {
	endpoint string // without credentials, safe for messages
	username string
	password string
	timeout  time.Duration
	http     *http.Client
}

// New builds a client for an endpoint such as http://127.0.0.1:9001/RPC2. Credentials
// may also be given in the URL; they are moved out of it so that no error ever shows
// the password. timeout bounds each call (DefaultTimeout if 0).
func New(endpoint, username, password string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("supervisor: endpoint %s is not an http(s) URL", redact(endpoint, u))
	}
	if u.User != nil {
		if username == "" {
			username = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && password == "" {
			password = p
		}
		u.User = nil
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{
		endpoint: u.String(),
		username: username,
		password: password,
		timeout:  timeout,
		http:     &http.Client{Timeout: timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}, nil
}

// redact quotes an endpoint that failed validation without its password. One that did
// not even parse is not shown if it may hold credentials: nothing can be cut out safely.
func redact(raw string, u *url.URL) string {
	switch {
	case u != nil:
		return strconv.Quote(u.Redacted())
	case strings.Contains(raw, "@"):
		return "(not shown: it may hold credentials)"
	}
	return strconv.Quote(raw)
}

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Endpoint is the URL the client calls, without credentials: safe to log.
func (c *Client) Endpoint() string { return c.endpoint }

// call performs one XML-RPC call and decodes the reply into reply (if not nil). process
// names the process the call is about, for error messages; it may be empty.
func (c *Client) call(ctx context.Context, process, method string, reply any, args ...any) error {
	what := method
	if process != "" {
		what = fmt.Sprintf("%s(%s)", method, process)
	}
	body, err := xmlrpc.EncodeMethodCall(method, args...)
	if err != nil {
		return fmt.Errorf("supervisord at %s: encode %s: %w", c.endpoint, what, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("supervisord at %s: %s: %w", c.endpoint, what, err)
	}
	req.Header.Set("Content-Type", "text/xml")
	if c.username != "" || c.password != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return c.transportError(ctx, what, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("supervisord at %s rejected the credentials of user %q (HTTP 401): check the supervisor username and password", c.endpoint, c.username)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("supervisord at %s: %s: HTTP %s", c.endpoint, what, resp.Status)
	}
	r := xmlrpc.Response(data)
	if err := r.Err(); err != nil {
		var f xmlrpc.FaultError
		if errors.As(err, &f) {
			return &FaultError{Code: f.Code, String: f.String, Process: process, Method: method, Endpoint: c.endpoint}
		}
		return fmt.Errorf("supervisord at %s: %s: bad reply: %w", c.endpoint, what, err)
	}
	if reply != nil {
		if err := r.Unmarshal(reply); err != nil {
			return fmt.Errorf("supervisord at %s: %s: decode reply: %w", c.endpoint, what, err)
		}
	}
	return nil
}

// transportError tells apart the caller giving up, the call outliving the client's
// timeout, and the host not answering at all: each calls for a different reaction.
func (c *Client) transportError(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("supervisord at %s: %s: %w", c.endpoint, what, ctxErr)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("supervisord at %s: %s timed out after %s", c.endpoint, what, c.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL
	}
	return fmt.Errorf("supervisord at %s unreachable: %w", c.endpoint, err)
}
