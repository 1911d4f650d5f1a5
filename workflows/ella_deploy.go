package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ella"
)

// Failure types of an EllaDeploy run; the run's EllaDeployResult is the failure's details.
// A rejection or an expired deadline is not a failure: the run completes with its outcome.
const (
	// ErrEllaDeployRefused: the input or a step before the stop failed; ELLA was not stopped.
	ErrEllaDeployRefused = "EllaDeployRefused"
	// ErrEllaRolledBack: a step after the stop failed; the previous version runs again.
	ErrEllaRolledBack = "EllaDeployRolledBack"
	// ErrEllaLeftDown: the rollback failed too; ELLA may be stopped.
	ErrEllaLeftDown = "EllaLeftDown"
)

// EllaStepsQuery answers a running deploy's steps so far and its gate (an EllaDeployResult).
const EllaStepsQuery = "ella-steps"

// EllaDeployResult is a deploy as it happened: its outcome, every step, the decision and the
// change record ("Endringskontroll") in Markdown.
type EllaDeployResult struct {
	Outcome       string      `json:"outcome"`
	Steps         []ella.Step `json:"steps"`
	PreviousImage string      `json:"previousImage,omitempty"`
	Migrated      bool        `json:"migrated"`
	Backup        string      `json:"backup,omitempty"`
	Gate          ella.Gate   `json:"gate"`
	Started       time.Time   `json:"started"`
	Finished      time.Time   `json:"finished,omitempty"`
	ChangeRecord  string      `json:"changeRecord,omitempty"`
}

// ellaActs: method values on a nil pointer give the registered activity names.
var ellaActs *activities.EllaActivities

// EllaDeploy deploys a new ELLA release the way the seed's "Deploying a new version" does:
// pre-flight, tell users, broadcast, stop, back up, switch the image, migrate and load
// configs, start, open the acceptance test, and wait for the testers' decision (the
// `acceptance` Update) until a deadline, reminding them. Approved: users are told ELLA is
// back. Rejected, expired, or a step after the stop failed: rolled back to the previous
// image and the dump. Every step's outcome and the change record are in the result.
func EllaDeploy(ctx workflow.Context, in ella.DeployInput) (*EllaDeployResult, error) {
	r := &ellaRun{ctx: ctx, in: in, res: &EllaDeployResult{Started: workflow.Now(ctx), Gate: ella.Gate{State: ella.GateNotOpen}}}
	if err := r.handlers(); err != nil {
		return nil, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("EllaDeploy"),
		VersionKey.ValueSet(in.Version), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		now := workflow.Now(ctx)
		r.res.Steps = append(r.res.Steps, ella.Step{Name: "validate input", Status: ella.StepFailed, Detail: err.Error(), Started: now, Finished: now})
		return r.refused(temporal.NewNonRetryableApplicationError("ELLA deploy input refused: "+err.Error(), ErrInvalidInput, nil))
	}
	within, remind, _ := in.Windows() // checked by Validate

	// 1-3: before the stop, a failure leaves ELLA as it runs.
	var check activities.EllaCheckResult
	if err := r.step("pre-flight", ellaCheckOptions, ellaActs.CheckEllaRelease,
		activities.EllaCheckInput{Image: in.Image, SHA256: in.SHA256, ConfigFiles: in.ConfigFiles()}, &check); err != nil {
		return r.refused(err)
	}
	r.res.PreviousImage = check.CurrentTarget
	r.detail(fmt.Sprintf("image checked; ella.sif points at %s; migration due: %t", check.CurrentTarget, check.MigrationDue))
	if err := r.mail("mail users: planned window", ellaMailOptions, activities.EllaMailInput{Template: activities.EllaMailPlanned,
		To: in.Users, Version: in.Version, Window: in.Window}); err != nil {
		return r.refused(err)
	}
	var bc activities.EllaBroadcastResult
	if err := r.step("broadcast downtime", ellaCommandOptions, ellaActs.EllaBroadcast,
		activities.EllaBroadcastInput{Message: in.Downtime()}, &bc); err != nil {
		return r.refused(err)
	}
	r.broadcasts = append(r.broadcasts, bc.ID)
	r.detail(fmt.Sprintf("broadcast %d", bc.ID))

	// 4-9: after the stop, a failure rolls back.
	r.stopped = true
	if err := r.step("stop ELLA", ellaProgramsOptions, ellaActs.StopElla, activities.EllaProgramsInput{Programs: ella.Programs}, nil); err != nil {
		return r.rollback(ella.OutcomeRolledBack, "stopping ELLA failed", err)
	}
	var backup activities.EllaBackupResult
	if err := r.step("back up database", ellaBackupOptions, ellaActs.BackupEllaDatabase,
		activities.EllaBackupInput{Stamp: r.res.Started.UTC().Format("20060102T150405Z")}, &backup); err != nil {
		return r.rollback(ella.OutcomeRolledBack, "the database backup failed", err)
	}
	r.res.Backup = backup.Path
	r.detail(fmt.Sprintf("%s, %d bytes, %d entries (pg_restore --list)", backup.Path, backup.Size, backup.Entries))
	r.switched = true
	if err := r.step("switch ella.sif to the new image", ellaCommandOptions, ellaActs.SwitchEllaImage,
		activities.EllaSwitchInput{Target: ella.LinkTarget(in.Image), Expected: check.CurrentTarget}, nil); err != nil {
		return r.rollback(ella.OutcomeRolledBack, "switching the image failed", err)
	}
	r.detail(ella.ProductionLink + " now points at " + ella.LinkTarget(in.Image))
	r.dbTouched = true
	if check.MigrationDue {
		if err := r.step("migrate database (upgrade head)", ellaMigrateOptions, ellaActs.MigrateEllaDatabase, activities.EllaMigrateInput{}, nil); err != nil {
			return r.rollback(ella.OutcomeRolledBack, "the database migration failed", err)
		}
		r.res.Migrated = true
	} else {
		r.skip("migrate database (upgrade head)", "database compare: at the image's head")
	}
	for _, c := range in.ConfigFiles() {
		if err := r.step("load "+c.Kind+" "+c.Name, ellaCommandOptions, ellaActs.ApplyEllaConfig, activities.EllaConfigInput{File: c}, nil); err != nil {
			return r.rollback(ella.OutcomeRolledBack, "loading "+c.Kind+" failed", err)
		}
	}
	if err := r.step("start ELLA", ellaProgramsOptions, ellaActs.StartElla, activities.EllaProgramsInput{Programs: ella.Programs}, nil); err != nil {
		return r.rollback(ella.OutcomeRolledBack, "ELLA did not start with the new image", err)
	}
	if err := r.step("broadcast acceptance test", ellaCommandOptions, ellaActs.EllaBroadcast,
		activities.EllaBroadcastInput{Message: ella.AcceptanceTestMessage, Deactivate: r.broadcasts}, &bc); err != nil {
		return r.rollback(ella.OutcomeRolledBack, "the acceptance test broadcast failed", err)
	}
	r.broadcasts = append(r.broadcasts, bc.ID)
	r.detail(fmt.Sprintf("broadcast %d", bc.ID))

	// 10: the acceptance gate.
	decision, err := r.await(within, remind)
	if err != nil {
		return r.rollback(ella.OutcomeRolledBack, "the deploy was cancelled during the acceptance test", err)
	}
	if decision == nil {
		return r.rollback(ella.OutcomeExpired, fmt.Sprintf("no acceptance decision before the deadline %s",
			r.res.Gate.Deadline.UTC().Format(time.RFC3339)), nil)
	}
	if !decision.Approved {
		return r.rollback(ella.OutcomeRejected, "rejected in the acceptance test by "+decision.By+commentOf(decision), nil)
	}
	// 11: approved. ELLA runs the new version whatever the notices do.
	_ = r.mail("mail users: ELLA is back", ellaMailOptions, activities.EllaMailInput{Template: activities.EllaMailBack,
		To: in.Users, Version: in.Version, Detail: decision.Comment})
	r.warnOnly("deactivate broadcasts", ellaCommandOptions, ellaActs.EllaBroadcast, activities.EllaBroadcastInput{Deactivate: r.broadcasts})
	return r.finish(ella.OutcomeApproved, nil)
}

// await opens the gate and waits for a decision until the deadline, reminding testers every
// remind. nil, nil: the deadline passed.
func (r *ellaRun) await(within, remind time.Duration) (*ella.Decision, error) {
	ctx := r.ctx
	opened := workflow.Now(ctx)
	g := &r.res.Gate
	deadline := opened.Add(within).UTC().Format(time.RFC3339)
	_ = r.mail("mail testers: start the acceptance test", ellaMailOptions, activities.EllaMailInput{Template: activities.EllaMailAcceptance,
		To: r.in.Testers, Version: r.in.Version, Deadline: deadline})
	// The gate opens once the testers were told (or telling them failed, a warning): a
	// follower of the gate (opsflow ella deploy --wait-gate) then sees them told.
	g.State, g.Deadline = ella.GateOpen, opened.Add(within)
	nextReminder := opened.Add(remind)
	for g.State == ella.GateOpen {
		wake := g.Deadline
		if nextReminder.Before(wake) {
			wake = nextReminder
		}
		decided, err := workflow.AwaitWithTimeout(ctx, wake.Sub(workflow.Now(ctx)), func() bool { return g.State != ella.GateOpen })
		if err != nil {
			g.State = ella.GateClosed
			return nil, err
		}
		if decided {
			break
		}
		if !workflow.Now(ctx).Before(g.Deadline) {
			g.State = ella.GateExpired
			r.add(ella.Step{Name: "acceptance decision", Status: ella.StepFailed, Detail: "no decision before the deadline " + deadline,
				Started: opened, Finished: workflow.Now(ctx)})
			return nil, nil
		}
		_ = r.mail("mail testers: reminder", ellaMailOptions, activities.EllaMailInput{Template: activities.EllaMailReminder,
			To: r.in.Testers, Version: r.in.Version, Deadline: deadline})
		nextReminder = nextReminder.Add(remind)
	}
	d := g.Decision
	status, verdict := ella.StepOK, "approved"
	if !d.Approved {
		status, verdict = ella.StepFailed, "rejected"
	}
	r.add(ella.Step{Name: "acceptance decision", Status: status, Detail: verdict + " by " + d.By + commentOf(d), Started: opened, Finished: d.At})
	return d, nil
}

func commentOf(d *ella.Decision) string {
	if d.Comment == "" {
		return ""
	}
	return ": " + d.Comment
}

// handlers registers the acceptance Update and the steps query before any step, so a
// decision sent early is refused with the reason (ella.Gate.Check) rather than unknown.
func (r *ellaRun) handlers() error {
	if err := workflow.SetQueryHandler(r.ctx, EllaStepsQuery, func() (*EllaDeployResult, error) { return r.res, nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(r.ctx, ella.AcceptanceUpdate,
		func(ctx workflow.Context, d ella.Decision) (string, error) {
			// Checked again: a second update validated before the first one ran is refused here.
			if err := r.res.Gate.Decide(d, workflow.Now(ctx)); err != nil {
				return "", err
			}
			if d.Approved {
				return fmt.Sprintf("approved by %s: users are told ELLA %s is back", d.By, r.in.Version), nil
			}
			return fmt.Sprintf("rejected by %s: rolling back to %s and the backup %s", d.By, r.res.PreviousImage, r.res.Backup), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(d ella.Decision) error { return r.res.Gate.Check(d) }})
}
