package watchers

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/opsflow/opsflow/internal/ella"
)

// DefaultEllaTaskQueue is the ELLA host's task queue an ella-health schedule names when its
// entry gives none: the worker's OPSFLOW_ELLA_TASK_QUEUE default.
const DefaultEllaTaskQueue = "ella"

// EllaHealth is ELLA's scheduled health check (the seed's debug checklist). It is a watcher
// like the scans, but not in All: its input is ella.HealthInput, and with no default
// recipients it is scheduled only when a schedules file gives it `to` (Needs).
var EllaHealth = Watcher{Name: "ella-health", Workflow: "EllaHealth", Side: "ELLA", Every: 5 * time.Minute,
	Input: InputEllaHealth, Needs: "give it `to` in the schedules file",
	Purpose: "checks ELLA's page, API, 5xx rate, uiexception, load, database and supervisor states; e-mails only on a change of state"}

// Known is every watcher: the scans of All, then the ones a schedules file must configure.
func Known() []Watcher { return append(slices.Clone(All), EllaHealth) }

// HealthInput is an ella-health schedule's action argument: its thresholds with the defaults
// filled in (so the schedule shows the limits it runs with), its recipients and the ELLA
// host's task queue (DefaultEllaTaskQueue when the entry gives none).
func (s Schedule) HealthInput() ella.HealthInput {
	in := ella.HealthInput{To: slices.Clone(s.To), TaskQueue: s.TaskQueue}
	if s.Thresholds != nil {
		in.Thresholds = *s.Thresholds
	}
	in.Thresholds = in.Thresholds.WithDefaults()
	if in.TaskQueue == "" {
		in.TaskQueue = DefaultEllaTaskQueue
	}
	return in
}

// Missing says what the schedules file must still give before this schedule is applied
// ("" when nothing): an ella-health schedule without recipients is not configured.
func (s Schedule) Missing() string {
	w, err := Lookup(s.Watcher)
	if err != nil || w.Input != InputEllaHealth || len(s.To) > 0 {
		return ""
	}
	return w.Needs
}

// checkInput checks the fields of the watcher's input kind and refuses those of another kind.
func (s Schedule) checkInput(w Watcher) error {
	if w.Input != InputEllaHealth {
		if len(s.To) > 0 || s.TaskQueue != "" || s.Thresholds != nil {
			return fmt.Errorf("watcher %s: to, taskQueue and thresholds are for %s only", s.Watcher, EllaHealth.Name)
		}
		return nil
	}
	if s.BatchSize != 0 || s.Prefix != "" {
		return fmt.Errorf("watcher %s: batchSize and prefix are for the scans; %s takes to, taskQueue and thresholds", s.Watcher, s.Watcher)
	}
	errs := []error{s.HealthInput().Validate()}
	for _, to := range s.To {
		if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
			errs = append(errs, fmt.Errorf("to: %q is not a bare e-mail address", to))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("watcher %s: %s", s.Watcher, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
