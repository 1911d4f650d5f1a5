package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

// ErrEllaFailoverRefused: ELLA could not be confirmed stopped on the From host (its
// activities failed, or a program still runs there); nothing was started on the To host.
const ErrEllaFailoverRefused = "EllaFailoverRefused"

// ErrEllaFailoverFailed: ELLA was stopped on the From host but did not start on the To
// host; it may be down on both and needs a person.
const ErrEllaFailoverFailed = "EllaFailoverFailed"

// EllaFailover's activity options. Each runs on a host's own task queue (set per step); a
// host whose worker does not pick the step up within ScheduleToStart is not reachable.
var ellaFailoverOptions = workflow.ActivityOptions{ScheduleToStartTimeout: 5 * time.Minute,
	ScheduleToCloseTimeout: 20 * time.Minute, StartToCloseTimeout: 5 * time.Minute,
	RetryPolicy: retry(2*time.Second, 30*time.Second, 3)}

// EllaFailoverResult is a failover as it happened: why, each step, the programs' states on the
// From host after the stop and on the To host after the start, and the broadcast shown.
type EllaFailoverResult struct {
	From        string            `json:"from"`
	To          string            `json:"to"`
	Reason      string            `json:"reason,omitempty"`
	Steps       []ella.Step       `json:"steps"`
	Stopped     map[string]string `json:"stopped,omitempty"`
	Started     map[string]string `json:"started,omitempty"`
	BroadcastID int64             `json:"broadcastId,omitempty"`
}

// EllaFailover moves ELLA from one host to the other, as the seed asks ("Stop ELLA on
// p22-ella-01 before starting it on failover VM"): stop every program on From's task queue,
// confirm none still runs there (EllaProgramStates with RequireStopped), and only then start
// them on To's task queue (StartElla checks each stays RUNNING and the page answers), report
// their states and broadcast. When From cannot be stopped or confirmed stopped (its worker
// does not answer, a program still runs) the run fails with ErrEllaFailoverRefused and
// nothing was started on To. Failing back is the same workflow with From and To swapped.
// Each host runs a worker with its own EllaActivities (its supervisord, page and ella-cli)
// polling its own task queue.
func EllaFailover(ctx workflow.Context, in ella.FailoverInput) (*EllaFailoverResult, error) {
	res := &EllaFailoverResult{From: in.From, To: in.To, Reason: in.Reason}
	if err := workflow.SetQueryHandler(ctx, EllaStepsQuery, func() (*EllaFailoverResult, error) { return res, nil }); err != nil {
		return nil, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("EllaFailover"), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		setOutcome(ctx, OutcomeFailed)
		return nil, temporal.NewNonRetryableApplicationError("ELLA failover input refused: "+err.Error(), ErrInvalidInput, nil)
	}
	step := func(name, queue string, act, arg, out any) error {
		opts := ellaFailoverOptions
		opts.TaskQueue = queue
		s := ella.Step{Name: name, Status: ella.StepOK, Started: workflow.Now(ctx)}
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), act, arg).Get(ctx, out)
		s.Finished = workflow.Now(ctx)
		if err != nil {
			s.Status, s.Detail = ella.StepFailed, errText(err)
		}
		res.Steps = append(res.Steps, s)
		return err
	}
	refused := func(why string, err error) (*EllaFailoverResult, error) {
		setOutcome(ctx, OutcomeAborted)
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ELLA failover from %s to %s refused, nothing started on %s: %s: %v",
			in.From, in.To, in.To, why, errText(err)), ErrEllaFailoverRefused, err, res)
	}

	var stopped activities.EllaProgramsResult
	if err := step("stop ELLA on "+in.From, in.From, ellaActs.StopElla, activities.EllaProgramsInput{Programs: ella.Programs}, &stopped); err != nil {
		return refused("stopping ELLA failed", err)
	}
	if err := step("confirm ELLA stopped on "+in.From, in.From, ellaActs.EllaProgramStates,
		activities.EllaProgramStatesInput{Programs: ella.Programs, RequireStopped: true}, &stopped); err != nil {
		return refused("ELLA is not confirmed stopped", err)
	}
	res.Stopped = stopped.States

	var started activities.EllaProgramsResult
	if err := step("start ELLA on "+in.To, in.To, ellaActs.StartElla, activities.EllaProgramsInput{Programs: ella.Programs}, &started); err != nil {
		setOutcome(ctx, OutcomeLeftDown)
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ELLA stopped on %s but did not start on %s: %v", in.From, in.To, errText(err)),
			ErrEllaFailoverFailed, err, res)
	}
	if err := step("verify ELLA on "+in.To, in.To, ellaActs.EllaProgramStates, activities.EllaProgramStatesInput{Programs: ella.Programs}, &started); err != nil {
		setOutcome(ctx, OutcomeFailed)
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ELLA started on %s but its states could not be read: %v", in.To, errText(err)),
			ErrEllaFailoverFailed, err, res)
	}
	res.Started = started.States
	for _, p := range ella.Programs {
		if started.States[p] != "RUNNING" {
			setOutcome(ctx, OutcomeFailed)
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("ELLA's %s is %s on %s after the start", p, started.States[p], in.To),
				ErrEllaFailoverFailed, nil, res)
		}
	}
	var bc activities.EllaBroadcastResult
	if err := step("broadcast on "+in.To, in.To, ellaActs.EllaBroadcast,
		activities.EllaBroadcastInput{Message: in.Broadcast(), Deactivate: in.Deactivate}, &bc); err != nil {
		// ELLA runs on To: a missing banner does not undo the failover.
		res.Steps[len(res.Steps)-1].Status = ella.StepWarning
	} else {
		res.BroadcastID = bc.ID
	}
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}
