package ella

import (
	"errors"
	"fmt"
	"regexp"
)

// FailoverMessage is the default broadcast once ELLA runs on the other host.
const FailoverMessage = "ELLA er flyttet til en annen server. ELLA kan brukes som normalt."

// taskQueueRE is a host's task queue name: what its worker polls (e.g. ella-p22-ella-01).
var taskQueueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$`)

// FailoverInput moves ELLA from one host to another (the seed: "ELLA can be started from the
// failover VM p22-ella-fo-01. Stop ELLA on p22-ella-01 before starting it on failover VM").
// From and To are the hosts' task queues; failing back is the same input with them swapped.
type FailoverInput struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Reason is why (for the result and the history).
	Reason string `json:"reason,omitempty"`
	// Message replaces the default broadcast (FailoverMessage); Deactivate hides broadcasts
	// shown before (by id), e.g. the previous failover's.
	Message    string  `json:"message,omitempty"`
	Deactivate []int64 `json:"deactivate,omitempty"`
}

// Validate refuses a missing or equal pair of task queues and a bad broadcast.
func (in FailoverInput) Validate() error {
	var errs []error
	for _, q := range []struct{ field, v string }{{"from", in.From}, {"to", in.To}} {
		if !taskQueueRE.MatchString(q.v) {
			errs = append(errs, fmt.Errorf("%s %q is not a host's task queue name", q.field, q.v))
		}
	}
	if in.From == in.To && in.From != "" {
		errs = append(errs, fmt.Errorf("from and to are the same task queue %q", in.From))
	}
	if err := CheckBroadcast(in.Broadcast()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Broadcast is the message shown once ELLA runs on To.
func (in FailoverInput) Broadcast() string {
	if in.Message != "" {
		return in.Message
	}
	return FailoverMessage
}

// Stopped says whether a supervisord state means the program does not run: STOPPED, EXITED,
// FATAL (and MISSING, a program that host's supervisord does not know). STARTING, RUNNING,
// BACKOFF, STOPPING and UNKNOWN may still serve or write.
func Stopped(state string) bool {
	switch state {
	case "STOPPED", "EXITED", "FATAL", "MISSING":
		return true
	}
	return false
}
