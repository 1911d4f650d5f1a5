package workflows

import (
	"errors"
	"fmt"
	"sort"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/opsflow/opsflow/activities"
)

// Bridge downstream, stage 2: BridgeJSONToParquet converts one dataset's NDJSON into Parquet
// tables, incrementally (a partition is converted again only when its NDJSON changed: the
// converted manifest is the original's job bookmark), and then checks that every record is in
// the tables (the original's bootstrap diff). BridgeParquetScan, scheduled like the original's
// hourly trigger, starts one BridgeJSONToParquet per dataset. A dataset's run has the id
// BridgeParquetWorkflowID(environment, dataset), so two conversions of one dataset never run at once.

var bridgeParquetActs *activities.BridgeParquetActivities

// Defaults of a conversion run.
const (
	defaultParallelPartitions = 4
	maxPartitionsPerRun       = 200
)

// BridgeParquetWorkflowID is a dataset's conversion run in an environment (workflow ids are
// unique in a namespace, which environments may share; dataset names are the same in each).
func BridgeParquetWorkflowID(environment, dataset string) string {
	if environment == "" {
		return "bridge-parquet-" + dataset
	}
	return "bridge-parquet-" + environment + "-" + dataset
}

// BridgeJSONToParquetInput names the dataset. JSON example: {"dataset":"sharedSchema_v1"}.
type BridgeJSONToParquetInput struct {
	Dataset     string `json:"dataset"`
	Environment string `json:"environment,omitempty"`
	// Parallel is how many partitions are converted at once (default 4); each conversion's
	// memory is bounded by its row groups and the largest record.
	Parallel int `json:"parallel,omitempty"`
	// Done carries what earlier runs of this conversion did across continue-as-new.
	Done *BridgeJSONToParquetResult `json:"done,omitempty"`
}

// BridgeJSONToParquetResult is what a conversion did and what the completeness check found.
type BridgeJSONToParquetResult struct {
	Dataset    string           `json:"dataset"`
	Partitions int              `json:"partitions"`
	Records    int              `json:"records"`
	Rows       map[string]int64 `json:"rows,omitempty"`
	// Failed are the partitions whose conversion failed (type conflict, malformed record).
	Failed []string `json:"failed,omitempty"`
	// Unexpected are keys under the dataset's prefix that name no record: never converted.
	Unexpected []string `json:"unexpected,omitempty"`
	// Records of the dataset and those missing from its tables (MissingCount all of them).
	Completeness activities.CompletenessResult `json:"completeness"`
}

// BridgeJSONToParquet converts the dataset's stale partitions, a few at once, then checks
// completeness; missing records and failed partitions are in the result and alerted.
func BridgeJSONToParquet(ctx workflow.Context, in BridgeJSONToParquetInput) (*BridgeJSONToParquetResult, error) {
	tr, err := newTracker(ctx, "BridgeJSONToParquet")
	if err != nil {
		return nil, err
	}
	defer tr.finish()
	if err := workflow.UpsertTypedSearchAttributes(ctx, ProcedureKey.ValueSet("BridgeJSONToParquet"), PackageKey.ValueSet(in.Dataset),
		EnvironmentKey.ValueSet(in.Environment), OutcomeKey.ValueSet(OutcomeRunning)); err != nil {
		return nil, err
	}
	fail := func(err error) (*BridgeJSONToParquetResult, error) {
		tr.p.Error = err.Error()
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "failed", err)
		return nil, err
	}
	res := in.Done
	if res == nil {
		res = &BridgeJSONToParquetResult{Dataset: in.Dataset, Rows: map[string]int64{}}
	}
	if res.Rows == nil {
		res.Rows = map[string]int64{}
	}
	ds := activities.BridgeDatasetInput{Dataset: in.Dataset}
	tr.step("listing stale partitions")
	var stale activities.StalePartitions
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, listOptions), bridgeParquetActs.ListStalePartitions, ds).Get(ctx, &stale); err != nil {
		return fail(err)
	}
	res.Unexpected = stale.Unexpected
	parts := stale.Partitions
	more := len(parts) > maxPartitionsPerRun
	if more {
		parts = parts[:maxPartitionsPerRun]
	}
	tr.step(fmt.Sprintf("converting %d partitions", len(parts)))
	if err := convertPartitions(ctx, tr, in, parts, res); err != nil {
		return fail(err)
	}
	if more {
		// A partition that failed stays stale: the next run would try it again at once, so
		// the failures so far end this run instead of looping.
		if len(res.Failed) == 0 {
			in.Done = res
			return nil, workflow.NewContinueAsNewError(ctx, BridgeJSONToParquet, in)
		}
	}
	tr.step("completeness check")
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, completenessOptions), bridgeParquetActs.CheckCompleteness, ds).Get(ctx, &res.Completeness); err != nil {
		return fail(err)
	}
	tr.p.Counts["missing"] = int64(res.Completeness.MissingCount)
	tr.step("done")
	if res.Completeness.MissingCount > 0 || len(res.Failed) > 0 {
		err := temporal.NewNonRetryableApplicationError(fmt.Sprintf("dataset %s: %d records missing from the tables, %d partitions failed",
			in.Dataset, res.Completeness.MissingCount, len(res.Failed)), ErrBridgeIncomplete, nil)
		setOutcome(ctx, OutcomeFailed)
		tr.notify(ctx, "incomplete", err)
		return res, nil
	}
	setOutcome(ctx, OutcomeSucceeded)
	return res, nil
}

// convertPartitions runs ConvertPartition on parts, in.Parallel at a time. A partition refused
// for good (type conflict, malformed record) is recorded in res.Failed and the others go on;
// any other failure (the S3 endpoint gone after every retry) fails the run.
func convertPartitions(ctx workflow.Context, tr *tracker, in BridgeJSONToParquetInput, parts []string, res *BridgeJSONToParquetResult) error {
	parallel := in.Parallel
	if parallel <= 0 {
		parallel = defaultParallelPartitions
	}
	actx := workflow.WithActivityOptions(ctx, convertPartitionOptions)
	var firstErr error
	pending := 0
	sel := workflow.NewSelector(ctx)
	next := 0
	startOne := func() {
		part := parts[next]
		next++
		pending++
		f := workflow.ExecuteActivity(actx, bridgeParquetActs.ConvertPartition, activities.ConvertPartitionInput{Dataset: in.Dataset, Partition: part})
		sel.AddFuture(f, func(f workflow.Future) {
			pending--
			var got activities.ConvertPartitionResult
			err := f.Get(ctx, &got)
			var app *temporal.ApplicationError
			switch {
			case err == nil:
				res.Partitions++
				res.Records += got.Records
				for _, t := range sortedKeys(got.Rows) {
					res.Rows[t] += got.Rows[t]
				}
			case errors.As(err, &app) && app.NonRetryable():
				res.Failed = append(res.Failed, part)
			case firstErr == nil:
				firstErr = err
			}
			tr.p.Counts["partitions"], tr.p.Counts["records"] = int64(res.Partitions), int64(res.Records)
		})
	}
	for next < len(parts) && pending < parallel {
		startOne()
	}
	for pending > 0 {
		sel.Select(ctx)
		if firstErr == nil && next < len(parts) {
			startOne()
		}
	}
	sort.Strings(res.Failed)
	return firstErr
}

// BridgeParquetScanProcedure names the scheduled fan-out in search attributes and schedules.
const BridgeParquetScanProcedure = "BridgeParquetScan"

// BridgeParquetScan starts one BridgeJSONToParquet per dataset found under raw_json/ (a dataset
// whose conversion still runs is skipped: its id is taken).
func BridgeParquetScan(ctx workflow.Context, in WatcherScanInput) (*WatcherScanResult, error) {
	return runScan(ctx, scanner{procedure: BridgeParquetScanProcedure, self: BridgeParquetScan,
		list: func(ctx workflow.Context, page activities.ScanPage) (scanPage, error) {
			var got activities.BridgeDatasetsPage
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, listOptions), bridgeParquetActs.ListBridgeDatasets, page).Get(ctx, &got)
			out := scanPage{next: got.NextCursor}
			for _, d := range got.Datasets {
				out.children = append(out.children, scanChild{id: BridgeParquetWorkflowID(in.Environment, d), packageID: d, rerun: true,
					procedure: "BridgeJSONToParquet", workflow: BridgeJSONToParquet,
					input: BridgeJSONToParquetInput{Dataset: d, Environment: in.Environment}})
			}
			return out, err
		}}, in)
}
