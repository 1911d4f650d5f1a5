package workflows

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

// EllaHealth's activity options: a check must finish well within the Schedule's interval;
// an alert e-mail is retried for a while, as a lost one is not sent again (see EllaHealth).
var (
	ellaHealthCheckOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 8 * time.Minute, StartToCloseTimeout: 3 * time.Minute,
		RetryPolicy: retry(5*time.Second, 30*time.Second, 3)}
	ellaHealthMailOptions = workflow.ActivityOptions{ScheduleToCloseTimeout: 15 * time.Minute, StartToCloseTimeout: time.Minute,
		RetryPolicy: retry(5*time.Second, time.Minute, 0)}
)

// EllaHealthResult is one health check: the report, the state before it, the change of state
// (ella.Transition*) and the Message-ID of the e-mail that told it (none without a change).
type EllaHealthResult struct {
	Report     ella.HealthReport `json:"report"`
	Previous   string            `json:"previous"`
	Transition string            `json:"transition,omitempty"`
	Mailed     string            `json:"mailed,omitempty"`
}

// ellaHealthMemo is the short form of the report the Web UI shows (memo ella.HealthMemo).
type ellaHealthMemo struct {
	Status     string    `json:"status"`
	Checked    time.Time `json:"checked"`
	Alerts     []string  `json:"alerts,omitempty"`
	Transition string    `json:"transition,omitempty"`
}

// EllaHealth is the seed's debug checklist, run by a Schedule every few minutes: one
// CheckEllaHealth on the ELLA host's task queue (in.TaskQueue; empty: the run's) measures the
// page and API response times, the 5xx in the access log since the last check, new
// uiexception rows, load, database connections and long queries, and supervisord states
// against the input's thresholds. Only a change of state is e-mailed: ok → alert one
// alert with the evidence, alert → ok one "cleared", alert → alert nothing. The previous state
// is the activity's (<Dir>/health/last.json on the host), so every Schedule run compares with
// the one before. The report is the `health` query's answer, the run's memo and its
// OpsflowOutcome (ok or alert). An e-mail that still fails after its retries fails the run
// and is not sent again by the next one (which sees no change): the failed run shows it.
func EllaHealth(ctx workflow.Context, in ella.HealthInput) (*EllaHealthResult, error) {
	var res *EllaHealthResult
	if err := workflow.SetQueryHandler(ctx, ella.HealthQuery, func() (*EllaHealthResult, error) {
		if res == nil {
			return nil, errors.New("the health check has not finished yet")
		}
		return res, nil
	}); err != nil {
		return nil, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("EllaHealth"), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		setOutcome(ctx, OutcomeFailed)
		return nil, temporal.NewNonRetryableApplicationError("ELLA health input refused: "+err.Error(), ErrInvalidInput, nil)
	}
	checkOptions := ellaHealthCheckOptions
	checkOptions.TaskQueue = in.TaskQueue
	var check activities.EllaHealthResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, checkOptions), ellaActs.CheckEllaHealth,
		activities.EllaHealthInput{Thresholds: in.Thresholds}).Get(ctx, &check); err != nil {
		setOutcome(ctx, OutcomeFailed)
		return nil, err
	}
	res = &EllaHealthResult{Report: check.Report, Previous: check.Previous, Transition: ella.Transition(check.Previous, check.Report.Status)}
	if err := workflow.UpsertMemo(ctx, map[string]any{ella.HealthMemo: ellaHealthMemo{Status: res.Report.Status,
		Checked: res.Report.Checked, Alerts: res.Report.Alerts, Transition: res.Transition}}); err != nil {
		workflow.GetLogger(ctx).Warn("could not record the health memo", "error", err)
	}
	setOutcome(ctx, res.Report.Status)

	var mail activities.EllaMailInput
	switch res.Transition {
	case ella.TransitionRaised:
		mail = activities.EllaMailInput{Template: activities.EllaMailHealthAlert, To: in.To, Detail: res.Report.Evidence()}
	case ella.TransitionCleared:
		detail := res.Report.Evidence()
		if len(check.PreviousAlerts) > 0 {
			detail += "\nVarslet tidligere:\n- " + strings.Join(check.PreviousAlerts, "\n- ") + "\n"
		}
		mail = activities.EllaMailInput{Template: activities.EllaMailHealthCleared, To: in.To, Detail: detail}
	default:
		return res, nil
	}
	var sent activities.EllaMailResult
	mailOptions := ellaHealthMailOptions
	mailOptions.TaskQueue = in.TaskQueue // the host's worker has the SMTP settings
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, mailOptions), ellaActs.SendEllaMail, mail).Get(ctx, &sent); err != nil {
		setOutcome(ctx, OutcomeFailed)
		return res, err
	}
	res.Mailed = sent.MessageID
	return res, nil
}
