package supervisor

import (
	"context"
	"fmt"
	"time"
)

// pollInterval is how often WaitRunningFor looks at the process.
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
		t := time.NewTimer(min(pollInterval, remaining))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("supervisord at %s: waiting for %s to stay RUNNING: %w", c.endpoint, name, ctx.Err())
		case <-t.C:
		}
	}
}
