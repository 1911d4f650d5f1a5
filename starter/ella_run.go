package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/workflows"
)

// deployFollower follows one EllaDeploy run through its "ella-steps" query: each step is
// printed once, as it finishes, and so is each change of the acceptance gate.
type deployFollower struct {
	s       *session
	run     client.WorkflowRun
	done    chan deployEnd
	last    workflows.EllaDeployResult
	printed int
	gate    ella.GateState
	ended   bool
}

// deployEnd is how the run ended: its result, or its failure (whose details are the result).
type deployEnd struct {
	res workflows.EllaDeployResult
	err error
}

func newDeployFollower(s *session, run client.WorkflowRun) *deployFollower {
	f := &deployFollower{s: s, run: run, done: make(chan deployEnd, 1), gate: ella.GateNotOpen}
	go func() {
		var e deployEnd
		e.err = run.Get(s.ctx, &e.res)
		f.done <- e
	}()
	return f
}

// untilGate prints the steps until the acceptance gate has opened (or was passed), or the
// run ended (then its outcome, like toEnd without a record file). A gate closed before it
// opened means a run about to end: it is followed to its end.
func (f *deployFollower) untilGate() error {
	return f.loop(func() bool { return f.gate != ella.GateNotOpen && f.gate != ella.GateClosed }, "")
}

// toEnd prints the steps until the run ends, then its outcome and change record (to record
// when given). A failed run is an error.
func (f *deployFollower) toEnd(record string) error {
	return f.loop(func() bool { return false }, record)
}

func (f *deployFollower) loop(enough func() bool, record string) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case e := <-f.done:
			f.ended = true
			return f.finish(e, record)
		case <-tick.C:
			res, err := queryEllaSteps(f.s.ctx, f.s.c, f.run.GetID(), f.run.GetRunID())
			if err != nil {
				continue // the first workflow task may not have run yet
			}
			f.show(res)
			if enough() {
				return nil
			}
		case <-f.s.ctx.Done():
			return f.s.ctx.Err()
		}
	}
}

// show prints the steps not printed yet and the gate when it changed.
func (f *deployFollower) show(res workflows.EllaDeployResult) {
	f.last = res
	for ; f.printed < len(res.Steps); f.printed++ {
		fmt.Println(stepLine(res.Steps[f.printed]))
	}
	if res.Gate.State != f.gate {
		f.gate = res.Gate.State
		fmt.Println("acceptance gate: " + gateLine(res.Gate))
		if f.gate == ella.GateOpen { // the commands only once there is something to decide
			printDecideCommands(f.s.cfg, f.run.GetID())
		}
	}
}

func (f *deployFollower) finish(e deployEnd, record string) error {
	res := e.res
	failed := e.err != nil
	if failed {
		var app *temporal.ApplicationError
		if !errors.As(e.err, &app) || !app.HasDetails() || app.Details(&res) != nil {
			res = f.last // terminated or timed out: what the query last said
		}
	}
	f.show(res)
	if err := printDeployEnd(res, record); err != nil {
		return err
	}
	if failed {
		fmt.Printf("status: FAILED\n%v\n", e.err)
		return errors.New("ELLA deploy failed")
	}
	return nil
}

// printDeployEnd prints a finished deploy's outcome and backup, and its change record (to
// record when given).
func printDeployEnd(res workflows.EllaDeployResult, record string) error {
	fmt.Printf("outcome: %s\n", orText(res.Outcome, "(none)"))
	if res.Backup != "" {
		fmt.Printf("backup: %s\n", res.Backup)
	}
	if record != "" {
		return writeChangeRecord(res, record)
	}
	if res.ChangeRecord != "" {
		fmt.Printf("change record:\n%s\n", strings.TrimRight(res.ChangeRecord, "\n"))
	}
	return nil
}

func writeChangeRecord(res workflows.EllaDeployResult, path string) error {
	if res.ChangeRecord == "" {
		return fmt.Errorf("no change record to write to %s: the deploy has not ended", path)
	}
	if err := os.WriteFile(path, []byte(res.ChangeRecord), 0o644); err != nil {
		return fmt.Errorf("change record: %w", err)
	}
	fmt.Printf("change record: %s\n", path)
	return nil
}

// stepLine is one step on one line: status, name, detail.
func stepLine(s ella.Step) string {
	line := fmt.Sprintf("  %-8s %s", s.Status, s.Name)
	if s.Detail != "" {
		line += ": " + strings.Join(strings.Fields(s.Detail), " ")
	}
	return line
}

// gateLine says where the acceptance gate is.
func gateLine(g ella.Gate) string {
	deadline := g.Deadline.UTC().Format(time.RFC3339)
	switch g.State {
	case ella.GateOpen:
		return "open until " + deadline + ": the testers were told to start; waiting for their decision"
	case ella.GateDecided:
		if g.Decision == nil {
			return "decided"
		}
		verdict := "rejected"
		if g.Decision.Approved {
			verdict = "approved"
		}
		line := verdict + " by " + g.Decision.By
		if g.Decision.Comment != "" {
			line += " (" + strings.Join(strings.Fields(g.Decision.Comment), " ") + ")"
		}
		return line + " at " + g.Decision.At.UTC().Format(time.RFC3339)
	case ella.GateExpired:
		return "expired at " + deadline + " without a decision"
	case ella.GateClosed:
		return "closed: the deploy ended before the acceptance test"
	}
	return "not open yet: the deploy is still running its steps"
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func queryEllaSteps(ctx context.Context, c client.Client, id, runID string) (workflows.EllaDeployResult, error) {
	var res workflows.EllaDeployResult
	v, err := c.QueryWorkflow(ctx, id, runID, workflows.EllaStepsQuery)
	if err != nil {
		return res, fmt.Errorf("query %s of %s: %w", workflows.EllaStepsQuery, id, err)
	}
	return res, v.Get(&res)
}

func runEllaStatus(args []string) error {
	fs, cfg := ellaFlags("status", "--workflow-id ID [--record FILE]", false)
	id := fs.String("workflow-id", "", "workflow id of the deploy, e.g. ella-deploy-v1.17.2 (or of a failover) (required)")
	record := fs.String("record", "", "write the deploy's change record (Markdown) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("ella status: --workflow-id is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := s.c.DescribeWorkflowExecution(s.ctx, *id, "")
	if err != nil {
		return fmt.Errorf("ella status: %s: %w", *id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	status := info.GetStatus()
	runID := info.GetExecution().GetRunId()
	fmt.Printf("workflow: %s (%s, %s)\n  web UI: %s\n", *id, info.GetType().GetName(),
		strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_"), s.cfg.WorkflowURL(*id, runID))
	if info.GetType().GetName() == "EllaFailover" {
		return printFailoverStatus(s, *id, runID, status)
	}
	st, err := ellaDeployState(s, *id, runID, status)
	if err != nil {
		return err
	}
	res := st.res
	fmt.Printf("outcome: %s\n", orText(res.Outcome, "(running)"))
	fmt.Printf("acceptance gate: %s\n", gateLine(res.Gate))
	if res.Backup != "" {
		fmt.Printf("backup: %s\n", res.Backup)
	}
	fmt.Println("steps:")
	for _, step := range res.Steps {
		fmt.Println(stepLine(step))
	}
	if st.err != nil {
		fmt.Printf("failure: %v\n", st.err)
	}
	if *record != "" {
		return writeChangeRecord(res, *record)
	}
	return nil
}

// ellaDeployState is a deploy's result: the query's answer while it runs, its result or its
// failure's details once it ended (no worker needed), the query again for a run that was
// terminated or timed out.
func ellaDeployState(s *session, id, runID string, status enumspb.WorkflowExecutionStatus) (deployEnd, error) {
	var st deployEnd
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if err := s.c.GetWorkflow(s.ctx, id, runID).Get(s.ctx, &st.res); err != nil {
			return st, fmt.Errorf("ella status: result of %s: %w", id, err)
		}
		return st, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		st.err = s.c.GetWorkflow(s.ctx, id, runID).Get(s.ctx, &st.res)
		var app *temporal.ApplicationError
		if errors.As(st.err, &app) && app.HasDetails() && app.Details(&st.res) == nil {
			return st, nil
		}
	}
	res, err := queryEllaSteps(s.ctx, s.c, id, runID)
	if err != nil {
		return st, fmt.Errorf("ella status: %w (is a worker with the ELLA workflows running?)", err)
	}
	st.res = res
	return st, nil
}
