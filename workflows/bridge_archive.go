package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// Bridge downstream, stage 1: one BridgeArchiveToJSON run per archive, started from the S3
// event notifications (BridgeNotificationPoll, scheduled), from a sweep of the archive bucket
// (BridgeArchiveSweep, scheduled) or from `opsflow bridge --key`. Its id is
// BridgeArchiveWorkflowID(record id), so an archive notified twice, or both notified and swept,
// is processed once.

var bridgeArchiveActs *activities.BridgeArchiveActivities

// OutcomeInvalid is the outcome of an archive whose record failed validation: it went to the
// invalid queue and no dataset was written.
const OutcomeInvalid = "invalid"

// BridgeArchiveWorkflowID is the run's id for the archive of a record.
func BridgeArchiveWorkflowID(recordID string) string { return "bridge-archive-" + recordID }

// BridgeArchiveToJSONInput names the archive. JSON example:
// {"archive":{"Bucket":"bridge-archives","Key":"exports/OCJByUtSrVTYtqObYp7XZV_J.zip"}}.
type BridgeArchiveToJSONInput struct {
	Archive     activities.BridgeArchive `json:"archive"`
	Environment string                   `json:"environment,omitempty"`
}

// BridgeArchiveToJSON turns one archive into its datasets' NDJSON (ArchiveToJSON): a refused
// archive (truncated, unsafe names, a bomb, malformed JSON) fails the run with nothing written;
// an invalid record goes to the invalid queue; unmapped files are reported in the result.
func BridgeArchiveToJSON(ctx workflow.Context, in BridgeArchiveToJSONInput) (*activities.ArchiveToJSONResult, error) {
	tr, err := newTracker(ctx, "BridgeArchiveToJSON")
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("BridgeArchiveToJSON"),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	tr.step("archive to JSON")
	var res activities.ArchiveToJSONResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, archiveToJSONOptions), bridgeArchiveActs.ArchiveToJSON, in.Archive).Get(ctx, &res); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.NonRetryable() && in.Archive.RecordID != "" {
			// A refused archive is recorded, so the sweep does not start it again and again.
			refusal := activities.ArchiveRefusal{Archive: in.Archive, ErrorType: app.Type(), Reason: app.Error()}
			if rerr := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, publishOptions), bridgeArchiveActs.RecordArchiveRefusal, refusal).Get(ctx, nil); rerr != nil {
				workflow.GetLogger(ctx).Error("could not record the archive's refusal", "error", rerr)
			}
		}
		tr.step("failed")
		tr.p.Error = err.Error()
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}
	tr.p.Counts["datasets"], tr.p.Counts["unmapped"] = int64(len(res.Datasets)), int64(len(res.Unmapped))
	tr.step("done")
	if res.Invalid {
		setOutcome(ctx, OutcomeInvalid)
		return &res, nil
	}
	setOutcome(ctx, OutcomeSucceeded)
	return &res, nil
}

// BridgeArchiveSweepProcedure names the sweep in search attributes and schedules.
const BridgeArchiveSweepProcedure = "BridgeArchiveSweep"

// BridgeArchiveSweep lists the archive bucket for archives without a record marker and starts
// BridgeArchiveToJSON for each: the safety net for lost notifications (the original's hourly
// bootstrap trigger), under WatcherScanInput.Prefix. Cursor resumes the listing after a
// continue-as-new.
func BridgeArchiveSweep(ctx workflow.Context, in WatcherScanInput) (*WatcherScanResult, error) {
	return runScan(ctx, scanner{procedure: BridgeArchiveSweepProcedure, self: BridgeArchiveSweep,
		list: func(ctx workflow.Context, page activities.ScanPage) (scanPage, error) {
			var got activities.SweepPage
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, listOptions), bridgeArchiveActs.SweepArchives,
				activities.SweepInput{Prefix: in.Prefix, Cursor: page.Cursor, Limit: page.Limit}).Get(ctx, &got)
			out := scanPage{next: got.NextCursor, skipped: map[string]int{}}
			if got.Processed > 0 {
				out.skipped["processed"] = got.Processed
			}
			if got.Refused > 0 {
				out.skipped["refused"] = got.Refused
			}
			if got.Skipped > 0 {
				out.skipped["not-an-archive"] = got.Skipped
			}
			if len(got.Unidentified) > 0 {
				out.skipped["no-record-id"] = len(got.Unidentified)
			}
			for _, a := range got.Archives {
				out.children = append(out.children, scanChild{id: BridgeArchiveWorkflowID(a.RecordID), packageID: a.RecordID,
					procedure: "BridgeArchiveToJSON", workflow: BridgeArchiveToJSON,
					input: BridgeArchiveToJSONInput{Archive: a, Environment: in.Environment}})
			}
			return out, err
		}}, in)
}

// BridgeNotificationPollProcedure names the poller in search attributes and schedules.
const BridgeNotificationPollProcedure = "BridgeNotificationPoll"

// maxDrainRounds bounds one poll: a queue that keeps filling is drained again by the next poll.
const maxDrainRounds = 20

// BridgeNotificationPoll drains the SQS queue of S3 event notifications: each new archive's
// BridgeArchiveToJSON is started (by the activity, under the record's id) before its message is
// deleted, so a notification is never lost and a redelivered one starts nothing. BatchSize is
// the messages per drain (default 100).
func BridgeNotificationPoll(ctx workflow.Context, in WatcherScanInput) (*activities.DrainResult, error) {
	tr, err := newTracker(ctx, BridgeNotificationPollProcedure)
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet(BridgeNotificationPollProcedure),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	max := in.BatchSize
	if max <= 0 {
		max = 100
	}
	var total activities.DrainResult
	for round := 1; round <= maxDrainRounds; round++ {
		tr.step(fmt.Sprintf("drain %d", round))
		var got activities.DrainResult
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, drainOptions), bridgeArchiveActs.DrainArchiveNotifications,
			activities.DrainInput{Max: max}).Get(ctx, &got); err != nil {
			tr.p.Error = err.Error()
			setOutcome(ctx, OutcomeFailed)
			tr.notify(ctx, "failed", err)
			return nil, err
		}
		total.Received += got.Received
		total.Started += got.Started
		total.Duplicates += got.Duplicates
		total.Ignored += got.Ignored
		tr.p.Counts["received"], tr.p.Counts["started"] = int64(total.Received), int64(total.Started)
		if got.Received < max {
			break
		}
	}
	tr.step("done")
	setOutcome(ctx, OutcomeSucceeded)
	return &total, nil
}
