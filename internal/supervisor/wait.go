package supervisor

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// pollInterval is how often the client looks at a process it waits for.
const pollInterval = 250 * time.Millisecond

// WaitRunningFor checks that the process is RUNNING now and is still RUNNING, with the
// same PID, after stable. supervisord's startsecs alone misses a service that dies a
// moment later, or that autorestart quietly brings back with a new PID.
func (c *Client) WaitRunningFor(ctx context.Context, name string, stable time.Duration) error {
	deadline := time.Now().Add(stable)
	firstPID := 0
	for {
		info, err := c.ProcessInfo(ctx, name)
		if err != nil {
			return err
		}
		switch {
		case info.StateName != "RUNNING":
			return fmt.Errorf("supervisord at %s: %s", c.endpoint, info.summary())
		case firstPID == 0:
			firstPID = info.PID
		case info.PID != firstPID:
			return fmt.Errorf("supervisord at %s: %s restarted while it should have stayed up (pid %d, now %d)",
				c.endpoint, name, firstPID, info.PID)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil
		}
		if err := sleep(ctx, min(pollInterval, remaining)); err != nil {
			return fmt.Errorf("supervisord at %s: waiting for %s to stay RUNNING: %w", c.endpoint, name, err)
		}
	}
}

// settle polls the process until its state is none of transient, and returns that
// state: how a stop or start that another call has under way ended.
func (c *Client) settle(ctx context.Context, name string, transient ...string) (ProcessInfo, error) {
	for {
		info, err := c.ProcessInfo(ctx, name)
		if err != nil || !slices.Contains(transient, info.StateName) {
			return info, err
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return info, fmt.Errorf("supervisord at %s: waiting for %s to leave %s: %w", c.endpoint, name, info.StateName, err)
		}
	}
}

// sleep waits for d, or less if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
