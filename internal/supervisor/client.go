// Package supervisor drives supervisord over its XML-RPC interface, the way an operator
// would with supervisorctl on each host: stop, start, and check a service stays up.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kolo/xmlrpc"
)

// Client talks to one supervisord (one per host in production).
type Client struct {
	endpoint string // without credentials, safe for messages
	user     string
	password string
	http     *http.Client
}

// New builds a client for e.g. http://127.0.0.1:9001/RPC2; timeout bounds each call (30s if 0).
func New(endpoint, username, password string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("supervisor: endpoint %q is not an http(s) URL", endpoint)
	}
	if u.User != nil { // credentials in the URL are accepted but never printed
		if username == "" {
			username = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && password == "" {
			password = p
		}
		u.User = nil
	}
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &Client{endpoint: u.String(), user: username, password: password, http: &http.Client{Timeout: timeout}}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Endpoint is the URL without credentials.
func (c *Client) Endpoint() string { return c.endpoint }

// FaultError is supervisord's answer to a call it refused.
type FaultError struct {
	Code    int
	String  string
	Process string
	Method  string
}

func (e *FaultError) Error() string {
	if e.Process != "" {
		return fmt.Sprintf("supervisord %s(%s): fault %d %s", e.Method, e.Process, e.Code, e.String)
	}
	return fmt.Sprintf("supervisord %s: fault %d %s", e.Method, e.Code, e.String)
}

// Fault codes from supervisor/xmlrpc.py.
const (
	faultBadName             = 10
	faultNoFile              = 20
	faultNotExecutable       = 21
	faultFailed              = 30
	faultAbnormalTermination = 40
	faultSpawnError          = 50
	faultAlreadyStarted      = 60
	faultNotRunning          = 70
)

func faultCode(err error) int {
	var f *FaultError
	if errors.As(err, &f) {
		return f.Code
	}
	return 0
}

// IsBadName reports that supervisord does not know the process: a config error, not transient.
func IsBadName(err error) bool { return faultCode(err) == faultBadName }

// IsSpawnFailure reports that the process could not be started or died while starting.
func IsSpawnFailure(err error) bool {
	switch faultCode(err) {
	case faultNoFile, faultNotExecutable, faultFailed, faultAbnormalTermination, faultSpawnError:
		return true
	}
	return false
}

// call performs one XML-RPC call, honouring ctx, and decodes the reply into reply.
func (c *Client) call(ctx context.Context, process, method string, reply any, args ...any) error {
	body, err := xmlrpc.EncodeMethodCall(method, args...)
	if err != nil {
		return fmt.Errorf("supervisor: encode %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml")
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("supervisord at %s: %s: %w", c.endpoint, method, ctx.Err())
		}
		return fmt.Errorf("supervisord at %s unreachable: %w", c.endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("supervisord at %s: read %s reply: %w", c.endpoint, method, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("supervisord at %s refused the credentials of user %q (401)", c.endpoint, c.user)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("supervisord at %s: %s: HTTP %d", c.endpoint, method, resp.StatusCode)
	}
	r := xmlrpc.Response(data)
	if err := r.Err(); err != nil {
		var f xmlrpc.FaultError
		if errors.As(err, &f) {
			return &FaultError{Code: f.Code, String: f.String, Process: process, Method: method}
		}
		return fmt.Errorf("supervisord at %s: %s: %w", c.endpoint, method, err)
	}
	if reply != nil {
		if err := r.Unmarshal(reply); err != nil {
			return fmt.Errorf("supervisord at %s: decode %s reply: %w", c.endpoint, method, err)
		}
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ProcessInfo is supervisord's view of one process.
type ProcessInfo struct {
	Name        string `xmlrpc:"name"`
	Group       string `xmlrpc:"group"`
	StateName   string `xmlrpc:"statename"`
	Description string `xmlrpc:"description"`
	SpawnErr    string `xmlrpc:"spawnerr"`
	State       int    `xmlrpc:"state"`
	PID         int    `xmlrpc:"pid"`
	ExitStatus  int    `xmlrpc:"exitstatus"`
	Start       int64  `xmlrpc:"start"`
	Stop        int64  `xmlrpc:"stop"`
	Now         int64  `xmlrpc:"now"`
}

// State returns supervisord's own state, RUNNING when it serves.
func (c *Client) State(ctx context.Context) (string, error) {
	var st struct {
		StateName string `xmlrpc:"statename"`
	}
	if err := c.call(ctx, "", "supervisor.getState", &st); err != nil {
		return "", err
	}
	return st.StateName, nil
}

// ProcessInfo returns the state of one process.
func (c *Client) ProcessInfo(ctx context.Context, name string) (ProcessInfo, error) {
	var info ProcessInfo
	err := c.call(ctx, name, "supervisor.getProcessInfo", &info, name)
	return info, err
}

// AllProcessInfo returns the state of every process.
func (c *Client) AllProcessInfo(ctx context.Context) ([]ProcessInfo, error) {
	var infos []ProcessInfo
	err := c.call(ctx, "", "supervisor.getAllProcessInfo", &infos)
	return infos, err
}

// Stop stops the process and waits; a process that is not running is already stopped.
func (c *Client) Stop(ctx context.Context, name string) error {
	var ok bool
	err := c.call(ctx, name, "supervisor.stopProcess", &ok, name, true)
	if faultCode(err) == faultNotRunning {
		return nil
	}
	return err
}

// Start starts the process and waits until supervisord considers it started (startsecs);
// a process already running counts as started.
func (c *Client) Start(ctx context.Context, name string) error {
	var ok bool
	err := c.call(ctx, name, "supervisor.startProcess", &ok, name, true)
	if faultCode(err) == faultAlreadyStarted {
		return nil
	}
	return err
}

// WaitRunningFor checks the process is RUNNING now and still RUNNING with the same PID
// after stable: supervisord's startsecs alone misses a service that dies a moment later.
func (c *Client) WaitRunningFor(ctx context.Context, name string, stable time.Duration) error {
	first, err := c.ProcessInfo(ctx, name)
	if err != nil {
		return err
	}
	if first.StateName != "RUNNING" {
		return notRunning(first)
	}
	deadline := time.Now().Add(stable)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		info, err := c.ProcessInfo(ctx, name)
		if err != nil {
			return err
		}
		if info.StateName != "RUNNING" || info.PID != first.PID {
			return notRunning(info)
		}
	}
	return nil
}

func notRunning(info ProcessInfo) error {
	msg := fmt.Sprintf("%s is %s (exit status %d)", info.Name, info.StateName, info.ExitStatus)
	if d := strings.TrimSpace(info.Description); d != "" {
		msg += ": " + d
	}
	if info.SpawnErr != "" {
		msg += ": " + info.SpawnErr
	}
	return errors.New(msg)
}
