package supervisor

import (
	"context"
	"fmt"
)

// Stop stops the process and waits until it is down. A process that is not running is
// already where the caller wants it, so NOT_RUNNING is success: retried runbook steps
// stay idempotent. supervisord also answers NOT_RUNNING while an earlier stop (say, of
// a call that timed out) is still under way; Stop then waits for that one, so a release
// is never extracted under a service that is still shutting down.
func (c *Client) Stop(ctx context.Context, name string) error {
	var ok bool
	err := c.call(ctx, name, "supervisor.stopProcess", &ok, name, true)
	if faultCode(err) != faultNotRunning {
		return err
	}
	_, err = c.settle(ctx, name, "STOPPING")
	return err
}

// Start starts the process and waits until supervisord considers it up (it stayed alive
// for startsecs). A spawn failure keeps its *FaultError and gains the process's state
// and spawn error. ALREADY_STARTED is success once the process is RUNNING: supervisord
// also answers it while an earlier start is still under way, and Start then waits for
// that one and reports its failure as a spawn failure.
func (c *Client) Start(ctx context.Context, name string) error {
	var ok bool
	err := c.call(ctx, name, "supervisor.startProcess", &ok, name, true)
	switch {
	case err == nil:
		return nil
	case faultCode(err) == faultAlreadyStarted:
		return c.joinStart(ctx, name)
	case IsSpawnFailure(err):
		if info, infoErr := c.ProcessInfo(ctx, name); infoErr == nil {
			return fmt.Errorf("%w: %s", err, info.summary())
		}
	}
	return err
}

// joinStart waits out a start that another call has under way (STARTING, or BACKOFF
// between supervisord's retries) and reports how it ended.
func (c *Client) joinStart(ctx context.Context, name string) error {
	info, err := c.settle(ctx, name, "STARTING", "BACKOFF")
	switch {
	case err != nil:
		return err
	case info.StateName == "RUNNING":
		return nil
	case info.StateName == "FATAL":
		return fmt.Errorf("supervisord at %s: %s: %w: %s", c.endpoint, name, errJoinedStartFailed, info.summary())
	}
	return fmt.Errorf("supervisord at %s: %s was starting, and then: %s", c.endpoint, name, info.summary())
}
