package main

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/workflows"
)

// runEllaDecide sends the testers' decision, the `acceptance` Update, and waits for the
// deploy to take it; the deploy's validator refuses a decision without who gave it, one
// before the acceptance test started, a second one and one after the deadline.
func runEllaDecide(args []string) error {
	fs, cfg := ellaFlags("decide", "--workflow-id ID (--approve | --reject) --by NAME [--comment TEXT] [--wait]", false)
	id := fs.String("workflow-id", "", "workflow id of the deploy, e.g. ella-deploy-v1.17.2 (required)")
	approve := fs.Bool("approve", false, "the acceptance test passed: keep the new version")
	reject := fs.Bool("reject", false, "the acceptance test failed: roll back to the previous version and the backup")
	by := fs.String("by", "", "who decides (required; in the change record)")
	comment := fs.String("comment", "", "why, in the change record and the users' e-mail")
	wait := fs.Bool("wait", false, "follow the deploy to its end, print its outcome and change record; exit 1 if it fails")
	record := fs.String("record", "", "with --wait: write the change record (Markdown) to this file instead of printing it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("ella decide: --workflow-id is required")
	}
	if *approve == *reject {
		return errors.New("ella decide: give either --approve or --reject")
	}
	d := ella.Decision{Approved: *approve, By: *by, Comment: *comment}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("ella decide: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	refused := func(err error) error {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return fmt.Errorf("%s refused the decision: %s", *id, app.Message())
		}
		var missing *serviceerror.NotFound
		if errors.As(err, &missing) {
			return fmt.Errorf("ella decide: %s: %w (see `opsflow ella status --workflow-id %s`)", *id, err, *id)
		}
		return fmt.Errorf("ella decide: %s: %w", *id, err)
	}
	// The steps so far, so --wait prints only those that follow the decision.
	before, beforeErr := queryEllaSteps(s.ctx, s.c, *id, "")
	h, err := s.c.UpdateWorkflow(s.ctx, client.UpdateWorkflowOptions{WorkflowID: *id, UpdateName: ella.AcceptanceUpdate,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return refused(err)
	}
	var answer string
	if err := h.Get(s.ctx, &answer); err != nil {
		return refused(err)
	}
	fmt.Println(answer)
	if !*wait {
		return nil
	}
	f := newDeployFollower(s, s.c.GetWorkflow(s.ctx, *id, h.RunID()))
	if beforeErr == nil {
		f.printed, f.gate = len(before.Steps), before.Gate.State
	}
	return f.toEnd(*record)
}

// runEllaFailover starts EllaFailover: ELLA is stopped on --from's host and confirmed
// stopped before it is started on --to's; failing back is the same command with the two
// swapped.
func runEllaFailover(args []string) error {
	fs, cfg := ellaFlags("failover", "--from QUEUE --to QUEUE [--reason TEXT] [--message TEXT] [--wait]", true)
	var in ella.FailoverInput
	fs.StringVar(&in.From, "from", "", "task queue of the ELLA host to stop ELLA on, e.g. ella (required)")
	fs.StringVar(&in.To, "to", "", "task queue of the ELLA host to start ELLA on, e.g. ella-failover (required)")
	fs.StringVar(&in.Reason, "reason", "", "why, for the result and the history")
	fs.StringVar(&in.Message, "message", "", "broadcast shown once ELLA runs on --to (default: ella.FailoverMessage, in Norwegian)")
	deactivate := fs.String("deactivate", "", "comma list of broadcast ids to hide on --to (e.g. the previous failover's)")
	workflowID := fs.String("workflow-id", "", "workflow id (default ella-failover-<from>-to-<to>-<unix seconds>)")
	wait := fs.Bool("wait", false, "wait for the result and print it; exit 1 if the failover is refused or fails")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, v := range splitComma(*deactivate) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("ella failover: --deactivate %q is not a broadcast id", v)
		}
		in.Deactivate = append(in.Deactivate, n)
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("ella failover: input refused, nothing started:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *workflowID == "" {
		*workflowID = fmt.Sprintf("ella-failover-%s-to-%s-%d", in.From, in.To, time.Now().Unix())
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	run, already, err := startOrJoin(s.ctx, s.c, client.StartWorkflowOptions{
		ID: *workflowID, TaskQueue: cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// Five steps of at most 20 minutes each, with room to spare.
		WorkflowExecutionTimeout: 3 * time.Hour,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("EllaFailover"),
			workflows.EnvironmentKey.ValueSet(cfg.Environment)),
		StaticSummary: "ELLA failover from " + in.From + " to " + in.To,
	}, workflows.EllaFailover, in)
	if err != nil {
		return fmt.Errorf("start EllaFailover: %w", err)
	}
	printRun(s.cfg, "EllaFailover from "+in.From+" to "+in.To, run, already, *wait)
	if !*wait {
		return nil
	}
	var res workflows.EllaFailoverResult
	runErr := run.Get(s.ctx, &res)
	return reportFailover(res, runErr)
}

// reportFailover prints a failover's result; a failed run's details are its result.
func reportFailover(res workflows.EllaFailoverResult, runErr error) error {
	if runErr != nil {
		var app *temporal.ApplicationError
		if errors.As(runErr, &app) && app.HasDetails() {
			_ = app.Details(&res)
		}
	}
	printFailoverResult(res)
	if runErr != nil {
		fmt.Printf("status: FAILED\n%v\n", runErr)
		return errors.New("ELLA failover failed")
	}
	fmt.Printf("status: COMPLETED: ELLA runs on %s\n", res.To)
	return nil
}

func printFailoverResult(res workflows.EllaFailoverResult) {
	fmt.Printf("failover from %s to %s", orText(res.From, "?"), orText(res.To, "?"))
	if res.Reason != "" {
		fmt.Printf(" (%s)", res.Reason)
	}
	fmt.Println()
	for _, st := range res.Steps {
		fmt.Println(stepLine(st))
	}
	if len(res.Stopped) > 0 {
		fmt.Printf("on %s: %s\n", res.From, statesLine(res.Stopped))
	}
	if len(res.Started) > 0 {
		fmt.Printf("on %s: %s\n", res.To, statesLine(res.Started))
	}
	if res.BroadcastID != 0 {
		fmt.Printf("broadcast: %d\n", res.BroadcastID)
	}
}

// statesLine is programs' supervisord states, by name: "api=RUNNING nginx=RUNNING".
func statesLine(states map[string]string) string {
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + states[n]
	}
	return strings.Join(parts, " ")
}

// printFailoverStatus is `opsflow ella status` of a failover: its result once it ended, the
// query's answer while it runs.
func printFailoverStatus(s *session, id, runID string, status enumspb.WorkflowExecutionStatus) error {
	var res workflows.EllaFailoverResult
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		err := s.c.GetWorkflow(s.ctx, id, runID).Get(s.ctx, &res)
		if err := reportFailover(res, err); err != nil {
			fmt.Println(err)
		}
		return nil
	}
	v, err := s.c.QueryWorkflow(s.ctx, id, runID, workflows.EllaStepsQuery)
	if err == nil {
		err = v.Get(&res)
	}
	if err != nil {
		return fmt.Errorf("ella status: query %s of %s: %w", workflows.EllaStepsQuery, id, err)
	}
	printFailoverResult(res)
	return nil
}
