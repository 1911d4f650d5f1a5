package histories

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/workflows"
)

// --- ELLA: the deploy with its acceptance gate, the scheduled health check, the failover

// Made-up values of the recorded ELLA runs (demo names only).
const (
	EllaVersion  = "v1.17.2"
	EllaImage    = "ella-release-v1.17.2.sif"
	EllaPrevious = "../" + ella.ReleasesDir + "/ella-release-v1.17.1.sif"
	EllaSHA256   = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	// EllaTester decides the recorded acceptance tests.
	EllaTester = "tester@example.org"
	// EllaPrimary and EllaFailoverHost are the failover's hosts; their task queues are
	// EllaHostQueue's, polled by the recorder for the failover scenarios.
	EllaPrimary      = "p22-ella-01"
	EllaFailoverHost = "p22-ella-fo-01"
)

// EllaHostQueue is an ELLA host's task queue in this recording.
func (e *Env) EllaHostQueue(host string) string { return e.TaskQueue + "-" + e.Stamp + "-ella-" + host }

// hostWorkers polls the ELLA hosts' queues with the stub activities (no workflows: the run
// stays on the recorder's queue, its steps go to the hosts), until stop.
func (e *Env) hostWorkers(queues ...string) (stop func(), err error) {
	var started []worker.Worker
	stop = func() {
		for _, w := range started {
			w.Stop()
		}
	}
	for _, q := range queues {
		w := worker.New(e.Client, q, worker.Options{})
		w.RegisterDynamicActivity(e.stubs.Execute, activity.DynamicRegisterOptions{})
		if err := w.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start the recorder's worker on the ELLA host queue %s: %w", q, err)
		}
		started = append(started, w)
	}
	return stop, nil
}

func ellaScenarios() []Scenario {
	return []Scenario{
		ellaDeployScenario("approved", "deploys v1.17.2 (migration, user groups), opens the gate; the acceptance update approves: users told, broadcasts hidden",
			&ella.Decision{Approved: true, By: EllaTester, Comment: "alt ser bra ut"}, nil, completed),
		ellaDeployScenario("rejected", "the same deploy; the acceptance update rejects: rolled back (stop, symlink back, dump restored, start), broadcast and mail",
			&ella.Decision{Approved: false, By: EllaTester, Comment: "filteret viser feil varianter"}, func(s Script) {
				s["RestoreEllaDatabase"] = ok(activities.EllaCommandResult{})
				s["EllaBroadcast"][2].Result = activities.EllaBroadcastResult{ID: 3} // the rollback's broadcast
			}, completed),
		ellaDeployScenario("refused", "the pre-flight finds a checksum mismatch: refused before anything stopped", nil, func(s Script) {
			s["CheckEllaRelease"] = fails(refused(activities.ErrChecksumMismatch, "image %s has sha256 %s, not the expected %s",
				EllaImage, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", EllaSHA256))
		}, failed),
		ellaHealthScenario("raised", "ok before, a 5xx burst now: one alert e-mail with the evidence",
			activities.EllaHealthResult{Previous: ella.HealthOK, Report: ellaHealthReport(30)}, nil, completed),
		ellaHealthScenario("ok", "ok before and now: no e-mail",
			activities.EllaHealthResult{Previous: ella.HealthOK, Report: ellaHealthReport(0)}, nil, completed),
		ellaHealthScenario("mail_refused", "an alert raised, the SMTP server refuses the recipient: the run fails",
			activities.EllaHealthResult{Previous: ella.HealthOK, Report: ellaHealthReport(30)},
			fails(refused(activities.ErrEllaMailRefused, "SMTP RCPT TO <ella-drift@example.org>: 550 mailbox unavailable")), failed),
		ellaFailoverScenario("moved", "stops ELLA on p22-ella-01, confirms it stopped, starts and verifies it on p22-ella-fo-01, broadcasts",
			nil, completed),
		ellaFailoverScenario("refused", "p22-ella-01's analysis-watcher still runs after the stop: refused, nothing started on p22-ella-fo-01",
			func(s Script) {
				s["EllaProgramStates"] = fails(refused(activities.ErrEllaStillRunning,
					"ELLA still runs at supervisord http://127.0.0.1:9001/RPC2: analysis-watcher STOPPING"))
			}, failed),
	}
}

// ellaStart is a recorded ELLA run's start: its procedure and the record environment, so it
// is never found as a real one.
func ellaStart(e *Env, base, scenario, procedure string, timeout time.Duration) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: e.ID(base, scenario), WorkflowExecutionTimeout: timeout,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet(procedure),
			workflows.EnvironmentKey.ValueSet(Environment))}
}

func programStates(state string) activities.EllaProgramsResult {
	states := map[string]string{}
	for _, p := range ella.Programs {
		states[p] = state
	}
	return activities.EllaProgramsResult{States: states}
}

// --- EllaDeploy

// EllaDeployInput is the recorded deploys' input: the shortest acceptance window (the
// runs are decided at once), activities on the recorder's queue (TaskQueue empty).
func EllaDeployInput() ella.DeployInput {
	return ella.DeployInput{Version: EllaVersion, Image: EllaImage, SHA256: EllaSHA256, UserGroups: "usergroups.json",
		Window: "tirsdag 1. desember 16–18", AcceptanceWithin: ella.MinAcceptanceWithin.String(),
		Users: []string{"ella-users@example.org"}, Testers: []string{EllaTester}, Change: "ELLA " + EllaVersion + ": recorded demo deploy"}
}

// ellaDeployScript answers a deploy that goes through: a migration is due; the downtime and
// acceptance broadcasts get ids 1 and 2, the third call only hides them (0).
func ellaDeployScript(change func(Script)) Script {
	s := Script{
		"CheckEllaRelease":    ok(activities.EllaCheckResult{CurrentTarget: EllaPrevious, MigrationDue: true, ImageSize: 1 << 20}),
		"SendEllaMail":        ok(activities.EllaMailResult{MessageID: "<ella-record@opsflow.invalid>"}),
		"EllaBroadcast":       ok(activities.EllaBroadcastResult{ID: 1}, activities.EllaBroadcastResult{ID: 2}, activities.EllaBroadcastResult{}),
		"StopElla":            ok(programStates("STOPPED")),
		"BackupEllaDatabase":  ok(activities.EllaBackupResult{Path: "backups/20261201T160000Z.dump", Size: 4096, Entries: 42}),
		"SwitchEllaImage":     ok(activities.EllaSwitchResult{Target: ella.LinkTarget(EllaImage)}, activities.EllaSwitchResult{Target: EllaPrevious}),
		"MigrateEllaDatabase": ok(activities.EllaCommandResult{Output: "upgraded to head"}),
		"ApplyEllaConfig":     ok(activities.EllaCommandResult{Output: "2 groups added"}),
		"StartElla":           ok(programStates("RUNNING")),
	}
	if change != nil {
		change(s)
	}
	return s
}

// ellaDeployScenario plays a deploy; with a decision, it waits until the gate is open and
// the testers were mailed, then sends the acceptance Update.
func ellaDeployScenario(name, about string, decision *ella.Decision, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "ella_deploy", Name: name}
	return Scenario{Name: "ella_deploy_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			run, _, err := e.Start(ctx, ellaStart(e, "ella-deploy-"+EllaVersion, name, "EllaDeploy", 24*time.Hour),
				ellaDeployScript(change), workflows.EllaDeploy, EllaDeployInput())
			if err != nil {
				return nil, err
			}
			if decision != nil {
				if err := ellaDecide(ctx, e, run, *decision); err != nil {
					return nil, err
				}
				var res workflows.EllaDeployResult
				if err := run.Get(ctx, &res); err != nil {
					return nil, fmt.Errorf("deploy %s: %w", run.GetID(), err)
				}
				wantOutcome := ella.OutcomeRejected
				if decision.Approved {
					wantOutcome = ella.OutcomeApproved
				}
				if res.Outcome != wantOutcome {
					return nil, fmt.Errorf("deploy %s ended %q, want %q", run.GetID(), res.Outcome, wantOutcome)
				}
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

// ellaDecide waits (query ella-steps) until the gate is open and the testers' mail went out,
// so the decision comes while the run waits on its deadline timer, then sends the
// acceptance Update and waits for its answer.
func ellaDecide(ctx context.Context, e *Env, run client.WorkflowRun, d ella.Decision) error {
	const mailed = "mail testers: start the acceptance test"
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		v, err := e.Client.QueryWorkflow(wctx, run.GetID(), run.GetRunID(), workflows.EllaStepsQuery)
		if err != nil {
			return fmt.Errorf("query %s of %s: %w", workflows.EllaStepsQuery, run.GetID(), err)
		}
		var res workflows.EllaDeployResult
		if err := v.Get(&res); err != nil {
			return err
		}
		if res.Gate.State == ella.GateOpen && len(res.Steps) > 0 && res.Steps[len(res.Steps)-1].Name == mailed {
			break
		}
		if res.Gate.State != ella.GateNotOpen && res.Gate.State != ella.GateOpen {
			return fmt.Errorf("deploy %s: the gate is %s, not open", run.GetID(), res.Gate.State)
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("deploy %s: the acceptance gate did not open: %w", run.GetID(), wctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), RunID: run.GetRunID(),
		UpdateName: ella.AcceptanceUpdate, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		var answer string
		err = h.Get(ctx, &answer)
	}
	if err != nil {
		return fmt.Errorf("acceptance update of %s: %w", run.GetID(), err)
	}
	return nil
}

// --- EllaHealth

// ellaHealthReport is a check's report with errors5xx of 40 requests answered 5xx (over the
// default 5%: an alert) and everything else fine.
func ellaHealthReport(errors5xx int) ella.HealthReport {
	m := ella.HealthMeasurements{Page: ella.Probe{URL: "http://127.0.0.1:8080/", Status: 200, Millis: 12},
		Requests: 40, Status5xx: errors5xx, Load1: 0.4, Load5: 0.3, Load15: 0.2, CPUs: 4, Connections: 7,
		Programs: programStates("RUNNING").States}
	alerts := ella.Evaluate(m, ella.HealthThresholds{})
	return ella.HealthReport{Checked: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Status: ella.StatusOf(alerts), Alerts: alerts, Measurements: m}
}

func ellaHealthScenario(name, about string, check activities.EllaHealthResult, mail []Answer, want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "ella_health", Name: name}
	if mail == nil {
		mail = ok(activities.EllaMailResult{MessageID: "<ella-health-record@opsflow.invalid>"})
	}
	return Scenario{Name: "ella_health_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			run, _, err := e.Start(ctx, ellaStart(e, "ella-health", name, "EllaHealth", 30*time.Minute),
				Script{"CheckEllaHealth": ok(check), "SendEllaMail": mail}, workflows.EllaHealth,
				ella.HealthInput{To: []string{"ella-drift@example.org"}})
			if err != nil {
				return nil, err
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}

// --- EllaFailover

func ellaFailoverScenario(name, about string, change func(Script), want enumspb.WorkflowExecutionStatus) Scenario {
	out := Output{Workflow: "ella_failover", Name: name}
	return Scenario{Name: "ella_failover_" + name, About: about, Outputs: []Output{out},
		Play: func(ctx context.Context, e *Env) ([]Recorded, error) {
			from, to := e.EllaHostQueue(EllaPrimary), e.EllaHostQueue(EllaFailoverHost)
			stop, err := e.hostWorkers(from, to)
			if err != nil {
				return nil, err
			}
			defer stop()
			s := Script{
				"StopElla":          ok(programStates("STOPPED")),
				"EllaProgramStates": ok(programStates("STOPPED"), programStates("RUNNING")),
				"StartElla":         ok(programStates("RUNNING")),
				"EllaBroadcast":     ok(activities.EllaBroadcastResult{ID: 7}),
			}
			if change != nil {
				change(s)
			}
			run, _, err := e.Start(ctx, ellaStart(e, "ella-failover", name, "EllaFailover", 30*time.Minute), s, workflows.EllaFailover,
				ella.FailoverInput{From: from, To: to, Reason: "recorded demo failover: " + EllaPrimary + " is patched"})
			if err != nil {
				return nil, err
			}
			// The host workers stop when Play returns: wait for the run's end here.
			err = run.Get(ctx, nil)
			if want == completed && err != nil {
				return nil, fmt.Errorf("failover %s: %w", run.GetID(), err)
			}
			if want == failed && !isType(err, workflows.ErrEllaFailoverRefused) {
				return nil, fmt.Errorf("failover %s: want an %s failure, got %v", run.GetID(), workflows.ErrEllaFailoverRefused, err)
			}
			return []Recorded{{Output: out, WorkflowID: run.GetID(), RunID: run.GetRunID(), Want: want}}, nil
		}}
}
