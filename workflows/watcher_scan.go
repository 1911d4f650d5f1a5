package workflows

import (
	"fmt"
	"sort"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// The tsd-import data movers' watchers (lims-exporter, nsc-exporter, filelock-exporter) are scan
// workflows started by Temporal Schedules. A scan lists its source a page at a time and starts
// one child workflow per package, so every package has its own history. Child ids are the
// package's keyed hash with a reuse policy that refuses a second start while one runs or after
// one succeeded; a failed child may be started again by a later scan. After a few pages the scan
// continues as new, so its history stays small however many packages it finds.

// Defaults of a scan's batching (WatcherScanInput).
const (
	defaultScanBatch      = 25
	defaultBatchesPerScan = 8
	maxScanBatch          = 200
)

// WatcherScanInput is what a Schedule passes to a watcher's scan, plus the state a scan carries
// across continue-as-new. JSON example: {"environment":"dev"}.
type WatcherScanInput struct {
	// Environment is the deployment the scan and its children belong to.
	Environment string `json:"environment,omitempty"`
	// BatchSize is how many packages are listed and started at once (default 25, at most 200).
	BatchSize int `json:"batchSize,omitempty"`
	// BatchesPerRun is how many batches one run handles before it continues as new (default 8).
	BatchesPerRun int `json:"batchesPerRun,omitempty"`
	// Prefix limits a listing to keys under it (the Bridge archive sweep; "" = everything).
	Prefix string `json:"prefix,omitempty"`
	// Cursor resumes the listing where the previous run of this scan stopped.
	Cursor string `json:"cursor,omitempty"`
	// Totals so far, carried across continue-as-new.
	Totals ScanTotals `json:"totals"`
}

// ScanTotals counts what a scan did with the packages it found.
type ScanTotals struct {
	// Found is every package the listing offered.
	Found int `json:"found"`
	// Started, Succeeded and Failed count child runs.
	Started   int `json:"started"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// AlreadyStarted counts packages whose child runs now or already succeeded (start refused).
	AlreadyStarted int `json:"alreadyStarted"`
	// Skipped counts what the listing left out and why (e.g. "published", "quarantined", "unsettled").
	Skipped map[string]int `json:"skipped,omitempty"`
	// FailedChildren are the workflow ids (hashes, never names) of the children that failed.
	FailedChildren []string `json:"failedChildren,omitempty"`
	// Runs is how many runs (continue-as-new generations) the scan took.
	Runs int `json:"runs"`
}

// WatcherScanResult is a finished scan's totals.
type WatcherScanResult struct {
	Totals ScanTotals `json:"totals"`
}

// scanChild is one package a listing offered: the child workflow that handles it.
type scanChild struct {
	id        string
	packageID string
	procedure string
	workflow  any
	input     any
	// rerun lets a child of the same id run again once the last one closed, however it ended
	// (a dataset is converted every hour); by default only a failed child may run again.
	rerun bool
}

// scanPage is one page of a listing: the children to start and what was left out.
type scanPage struct {
	children []scanChild
	skipped  map[string]int
	next     string
}

// scanner is what differs between watchers: the procedure's name, its listing, and the scan
// workflow itself (for continue-as-new).
type scanner struct {
	procedure string
	self      any
	list      func(ctx workflow.Context, page activities.ScanPage) (scanPage, error)
}

// runScan is the loop every watcher shares: list a batch, start its children, wait for them,
// and continue as new after BatchesPerRun batches (or when the server suggests it).
func runScan(ctx workflow.Context, sc scanner, in WatcherScanInput) (*WatcherScanResult, error) {
	if in.BatchSize <= 0 {
		in.BatchSize = defaultScanBatch
	}
	if in.BatchSize > maxScanBatch {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("batch size %d is above %d", in.BatchSize, maxScanBatch), ErrInvalidInput, nil)
	}
	if in.BatchesPerRun <= 0 {
		in.BatchesPerRun = defaultBatchesPerScan
	}
	if in.Totals.Skipped == nil {
		in.Totals.Skipped = map[string]int{}
	}
	in.Totals.Runs++
	tr, err := newTracker(ctx, sc.procedure)
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet(sc.procedure),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	for batch := 0; batch < in.BatchesPerRun; batch++ {
		tr.step(fmt.Sprintf("listing batch %d", batch+1))
		page, err := sc.list(ctx, activities.ScanPage{Cursor: in.Cursor, Limit: in.BatchSize})
		if err != nil {
			tr.p.Error = err.Error()
			setOutcome(ctx, OutcomeFailed)
			tr.notify(ctx, "failed", err)
			return nil, err
		}
		for _, c := range page.children {
			if c.packageID == "" {
				err := temporal.NewNonRetryableApplicationError(sc.procedure+": the listing returned a package without its hashed id",
					ErrInvalidInput, nil)
				setOutcome(ctx, OutcomeFailed)
				tr.notify(ctx, "failed", err)
				return nil, err
			}
		}
		for _, why := range sortedKeys(page.skipped) { // sorted: workflow code never ranges over a map
			in.Totals.Skipped[why] += page.skipped[why]
		}
		in.Totals.Found += len(page.children)
		tr.step(fmt.Sprintf("importing batch %d (%d packages)", batch+1, len(page.children)))
		runBatch(ctx, in.Environment, page.children, &in.Totals)
		tr.p.Counts["found"], tr.p.Counts["succeeded"], tr.p.Counts["failed"] =
			int64(in.Totals.Found), int64(in.Totals.Succeeded), int64(in.Totals.Failed)
		in.Cursor = page.next
		if in.Cursor == "" {
			tr.step("done")
			outcome := OutcomeSucceeded
			if in.Totals.Failed > 0 {
				outcome = OutcomeFailed
			}
			setOutcome(ctx, outcome)
			return &WatcherScanResult{Totals: in.Totals}, nil
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			break
		}
	}
	tr.step("continuing as new")
	return nil, workflow.NewContinueAsNewError(ctx, sc.self, in)
}

// runBatch starts every child of the batch at once, then waits for each. A start refused
// because the id is taken (the package is being handled, or was) is counted, not failed.
func runBatch(ctx workflow.Context, env string, children []scanChild, totals *ScanTotals) {
	futures := make([]workflow.ChildWorkflowFuture, len(children))
	for i, c := range children {
		reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
		if c.rerun {
			reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            c.id,
			WorkflowIDReusePolicy: reuse,
			// A scan that is terminated or continues as new leaves its children running.
			ParentClosePolicy:        enumspb.PARENT_CLOSE_POLICY_ABANDON,
			WorkflowExecutionTimeout: 24 * time.Hour,
			TypedSearchAttributes: temporal.NewSearchAttributes(ProcedureKey.ValueSet(c.procedure),
				PackageKey.ValueSet(c.packageID), EnvironmentKey.ValueSet(env)),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, c.workflow, c.input)
	}
	for i, f := range futures {
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
				totals.AlreadyStarted++
			} else {
				totals.Failed++
				totals.FailedChildren = append(totals.FailedChildren, children[i].id)
			}
			continue
		}
		totals.Started++
		if err := f.Get(ctx, nil); err != nil {
			totals.Failed++
			totals.FailedChildren = append(totals.FailedChildren, children[i].id)
			continue
		}
		totals.Succeeded++
	}
}

// sortedKeys lists a map's keys in order, so workflow code visits them deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	// Only collects the keys, sorted below, so the order of the range does not matter.
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
