package supervisor

import (
	"context"
	"fmt"
	"strings"
)

// ProcessInfo is supervisord's view of one process (supervisor.getProcessInfo).
type ProcessInfo struct {
	Name        string `xmlrpc:"name"`
	Group       string `xmlrpc:"group"`
	StateName   string `xmlrpc:"statename"`   // e.g. RUNNING, STOPPED, EXITED, FATAL
	Description string `xmlrpc:"description"` // e.g. "pid 42, uptime 0:01:02"
	SpawnErr    string `xmlrpc:"spawnerr"`    // why the last spawn failed, if it did
	State       int    `xmlrpc:"state"`
	PID         int    `xmlrpc:"pid"`
	ExitStatus  int    `xmlrpc:"exitstatus"`
	Start       int64  `xmlrpc:"start"` // Unix seconds
	Stop        int64  `xmlrpc:"stop"`  // Unix seconds
	Now         int64  `xmlrpc:"now"`   // supervisord's clock, Unix seconds
}

// summary is a one-line account of the process for error messages. The exit status is
// shown only for EXITED: supervisord leaves it stale (often 0) when a start fails, and
// for EXITED its spawnerr only repeats it ("Bad exit code 4").
func (p ProcessInfo) summary() string {
	var details []string
	desc := strings.TrimSpace(p.Description)
	if p.StateName == "EXITED" {
		details = append(details, fmt.Sprintf("exit status %d", p.ExitStatus))
		if desc != "" {
			details = append(details, "exited "+desc)
		}
	} else {
		if desc != "" {
			details = append(details, desc)
		}
		if p.SpawnErr != "" && p.SpawnErr != desc {
			details = append(details, "spawn error: "+p.SpawnErr)
		}
	}
	if len(details) == 0 {
		return fmt.Sprintf("%s is %s", p.Name, p.StateName)
	}
	return fmt.Sprintf("%s is %s (%s)", p.Name, p.StateName, strings.Join(details, ", "))
}

// State returns supervisord's own state: RUNNING when it serves, SHUTDOWN while stopping.
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

// AllProcessInfo returns the state of every process supervisord manages.
func (c *Client) AllProcessInfo(ctx context.Context) ([]ProcessInfo, error) {
	var infos []ProcessInfo
	err := c.call(ctx, "", "supervisor.getAllProcessInfo", &infos)
	return infos, err
}
