package supervisor

import (
	"errors"
	"fmt"
)

// FaultError is supervisord refusing a call. Callers branch on Code through IsBadName and
// IsSpawnFailure rather than on the text.
type FaultError struct {
	Code     int    // supervisor.xmlrpc.Faults value
	String   string // supervisord's text, e.g. "BAD_NAME: web"
	Process  string // the process the call was about, if any
	Method   string // e.g. supervisor.startProcess
	Endpoint string // the supervisord that refused, without credentials: which host
}

func (e *FaultError) Error() string {
	what := e.Method
	if e.Process != "" {
		what = fmt.Sprintf("%s(%s)", e.Method, e.Process)
	}
	return fmt.Sprintf("supervisord at %s: %s: fault %d %s", e.Endpoint, what, e.Code, e.String)
}

// Fault codes, from supervisor/xmlrpc.py (class Faults).
const (
	faultBadName             = 10
	faultNoFile              = 20
	faultNotExecutable       = 21
	faultAbnormalTermination = 40
	faultSpawnError          = 50
	faultAlreadyStarted      = 60
	faultNotRunning          = 70
)

// errJoinedStartFailed marks a Start that found another start of the process under way
// and saw that one fail: the same verdict as supervisord's SPAWN_ERROR, without a fault.
var errJoinedStartFailed = errors.New("the start already under way failed")

func faultCode(err error) int {
	var f *FaultError
	if errors.As(err, &f) {
		return f.Code
	}
	return 0
}

// IsBadName reports that supervisord does not know the process: a configuration error
// that retrying cannot fix.
func IsBadName(err error) bool { return faultCode(err) == faultBadName }

// IsSpawnFailure reports that the process could not be started (no such file, not
// executable, spawn error) or died before startsecs: the release is broken, and
// retrying the same start will not help. FAILED (30) is not one: supervisord uses it for
// a process in an unknown state or a stop whose kill failed.
func IsSpawnFailure(err error) bool {
	switch faultCode(err) {
	case faultNoFile, faultNotExecutable, faultAbnormalTermination, faultSpawnError:
		return true
	}
	return errors.Is(err, errJoinedStartFailed)
}
