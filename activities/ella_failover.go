package activities

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opsflow/opsflow/internal/ella"
)

// ErrEllaStillRunning: a program of ELLA still runs on a host where it must be stopped (the
// failover refuses to start ELLA on the other host). Non-retryable: someone must look.
const ErrEllaStillRunning = "EllaStillRunning"

// EllaProgramStatesInput names the programs to report (empty: ella.Programs); with
// RequireStopped, a program that may still run (not ella.Stopped) is ErrEllaStillRunning.
type EllaProgramStatesInput struct {
	Programs       []string `json:"programs,omitempty"`
	RequireStopped bool     `json:"requireStopped,omitempty"`
}

// EllaProgramStates reports the supervisord states of ELLA's programs on the worker's host
// (MISSING: that supervisord does not know the program). With RequireStopped it is the
// failover's guard: any program that may still run is ErrEllaStillRunning, naming them.
func (a *EllaActivities) EllaProgramStates(ctx context.Context, in EllaProgramStatesInput) (EllaProgramsResult, error) {
	programs := in.Programs
	if len(programs) == 0 {
		programs = ella.Programs
	}
	states, err := a.programStates(ctx, programs)
	if err != nil {
		return EllaProgramsResult{}, fmt.Errorf("ELLA's programs: %w", err)
	}
	if in.RequireStopped {
		var running []string
		for _, p := range slices.Sorted(maps.Keys(states)) {
			if !ella.Stopped(states[p]) {
				running = append(running, p+" "+states[p])
			}
		}
		if len(running) > 0 {
			return EllaProgramsResult{States: states}, permanent(ErrEllaStillRunning, nil, "ELLA still runs at supervisord %s: %s",
				a.Supervisor.Endpoint(), strings.Join(running, ", "))
		}
	}
	return EllaProgramsResult{States: states}, nil
}
