// Package histories records the histories that workflows/replay_test.go replays: every
// workflow type's runs (a passing and a failing one at least) on a Temporal server, with the
// real workflow code and stub activities that return canned answers, written to
// testdata/histories/<workflow>_<label>_<scenario>.json in the form `temporal workflow show
// --output json` writes and client.HistoryFromJSON reads.
//
// The label names the code version a history was recorded with. A history of older code is
// the point of the replay test, so a recording never overwrites a file unless asked to
// (Options.Force), and it only writes files of the label it is given: record the current code
// under a new label before changing a workflow's command sequence (see README, "Replay tests").
//
// Payloads are plain JSON (the SDK's default data converter, no codec), so the replayer needs
// no key; scenario inputs hold made-up names only. The command is
// internal/testsupport/histories/record (`make record-histories LABEL=...`).
package histories

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/opsflow/opsflow/workflows"
)

// DefaultTaskQueue is the recorder's own task queue: no opsflow worker polls it.
const DefaultTaskQueue = "opsflow-record"

// Workflows are all the workflow types, registered on the recorder's worker and on the
// replayer that checks each recorded history (as workflows/replay_test.go does).
var Workflows = []any{workflows.ReleaseDeploy, workflows.SiteLock, workflows.PackageImport,
	workflows.RevalidationSync, workflows.RevalidationRollback,
	workflows.LimsExportScan, workflows.LimsPackageExport, workflows.NSCExportScan, workflows.PackageUpload, workflows.FilelockScan,
	workflows.BridgeArchiveToJSON, workflows.BridgeNotificationPoll, workflows.BridgeArchiveSweep, workflows.BridgeJSONToParquet,
	workflows.BridgeParquetScan, workflows.EllaDeploy, workflows.EllaHealth, workflows.EllaFailover}

// Output is one history file a scenario writes: <Workflow>_<label>_<Name>.json.
type Output struct {
	Workflow string // snake case of the workflow type, e.g. revalidation_sync
	Name     string // the scenario's name for this run, e.g. aborted
}

// File is the output's file name under a label.
func (o Output) File(label string) string { return o.Workflow + "_" + label + "_" + o.Name + ".json" }

// Recorded is a run a scenario played, to be written as Output once it has ended as Want.
type Recorded struct {
	Output
	WorkflowID, RunID string
	Want              enumspb.WorkflowExecutionStatus
}

// Scenario is one or more runs played against the server.
type Scenario struct {
	// Name selects the scenario (-only); Outputs are the files it writes.
	Name    string
	Outputs []Output
	// About says what the runs do, for -list and the recorder's output.
	About string
	Play  func(ctx context.Context, e *Env) ([]Recorded, error)
}

// Selected reports whether the scenario is selected by names (empty: all): a name matches
// the scenario's name or the workflow of one of its outputs.
func (s Scenario) Selected(names []string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == s.Name {
			return true
		}
		for _, o := range s.Outputs {
			if n == o.Workflow {
				return true
			}
		}
	}
	return false
}

// Options of a recording.
type Options struct {
	Client client.Client
	// Dir is testdata/histories.
	Dir string
	// Label names the code version (e.g. v1, before_sync_time_limit): lower case letters,
	// digits and underscores.
	Label string
	// Only selects scenarios by name or workflow (empty: all).
	Only []string
	// Force overwrites existing files of this label.
	Force bool
	// TaskQueue is the recorder's task queue (DefaultTaskQueue if empty); site steps of a
	// release use <TaskQueue>-<stamp>-site-<site>.
	TaskQueue string
	Log       io.Writer
}

var labelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

// Plan checks the options and returns the selected scenarios and the files they would write;
// it fails, before anything runs, when a file exists and Force is not set.
func Plan(o Options, scenarios []Scenario) ([]Scenario, []string, error) {
	if !labelRE.MatchString(o.Label) {
		return nil, nil, fmt.Errorf("label %q: give the code version as lower case letters, digits and underscores (e.g. v1, before_sync_time_limit)", o.Label)
	}
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("history directory %s not found (run from the repository root, or pass -dir)", o.Dir)
	}
	known := map[string]bool{}
	for _, s := range scenarios {
		known[s.Name] = true
		for _, out := range s.Outputs {
			known[out.Workflow] = true
		}
	}
	for _, n := range o.Only {
		if !known[n] {
			return nil, nil, fmt.Errorf("-only %s: no such scenario or workflow (see -list)", n)
		}
	}
	var selected []Scenario
	var files, existing []string
	for _, s := range scenarios {
		if !s.Selected(o.Only) {
			continue
		}
		selected = append(selected, s)
		for _, out := range s.Outputs {
			f := filepath.Join(o.Dir, out.File(o.Label))
			files = append(files, f)
			if _, err := os.Stat(f); err == nil {
				existing = append(existing, f)
			}
		}
	}
	if len(existing) > 0 && !o.Force {
		return nil, nil, fmt.Errorf("not overwriting recorded histories (a history of older code is what the replay test checks; "+
			"record the current code under a new -label, or pass -force to replace these of label %s): %s",
			o.Label, strings.Join(existing, ", "))
	}
	return selected, files, nil
}

// Record plays the selected scenarios on a worker of its own and writes their histories.
// It returns the files written.
func Record(ctx context.Context, o Options, scenarios []Scenario) ([]string, error) {
	if o.TaskQueue == "" {
		o.TaskQueue = DefaultTaskQueue
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	selected, _, err := Plan(o, scenarios)
	if err != nil {
		return nil, err
	}
	e := &Env{Client: o.Client, TaskQueue: o.TaskQueue, Label: o.Label,
		Stamp: time.Now().UTC().Format("20060102t150405"), stubs: newStubs()}
	stop, err := e.startWorkers()
	if err != nil {
		return nil, err
	}
	defer stop()

	var written []string
	for _, s := range selected {
		fmt.Fprintf(o.Log, "scenario %s: %s\n", s.Name, s.About)
		runs, err := s.Play(ctx, e)
		if err != nil {
			return written, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		for _, r := range runs {
			if !slices.Contains(s.Outputs, r.Output) {
				return written, fmt.Errorf("scenario %s played %s, which it does not declare", s.Name, r.File(o.Label))
			}
			file := filepath.Join(o.Dir, r.File(o.Label))
			n, err := e.write(ctx, r, file, o.Force)
			if err != nil {
				return written, fmt.Errorf("scenario %s: %s: %w", s.Name, r.File(o.Label), err)
			}
			written = append(written, file)
			fmt.Fprintf(o.Log, "  wrote %s (%d events, %s, workflow %s run %s; read back and replayed)\n",
				file, n, strings.TrimPrefix(r.Want.String(), "WORKFLOW_EXECUTION_STATUS_"), r.WorkflowID, r.RunID)
		}
	}
	return written, nil
}

// write waits for the run to end as wanted, fetches its whole history, checks that the JSON
// reads back equal and replays on today's code, and writes it.
func (e *Env) write(ctx context.Context, r Recorded, file string, force bool) (int, error) {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_ = e.Client.GetWorkflow(wctx, r.WorkflowID, r.RunID).Get(wctx, nil) // its outcome is checked below
	desc, err := e.Client.DescribeWorkflowExecution(wctx, r.WorkflowID, r.RunID)
	if err != nil {
		return 0, err
	}
	if missing := e.stubs.missingAnswers(r.WorkflowID); len(missing) > 0 {
		return 0, fmt.Errorf("the run called activities its script does not answer: %v", missing)
	}
	if got := desc.GetWorkflowExecutionInfo().GetStatus(); got != r.Want {
		return 0, fmt.Errorf("run %s ended %s, the scenario wants %s", r.WorkflowID, got, r.Want)
	}
	hist, err := FetchHistory(wctx, e.Client, r.WorkflowID, r.RunID)
	if err != nil {
		return 0, err
	}
	data, err := MarshalHistory(hist)
	if err != nil {
		return 0, err
	}
	back, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
	if err != nil {
		return 0, fmt.Errorf("read the JSON back: %w", err)
	}
	if !proto.Equal(hist, back) {
		return 0, errors.New("the JSON does not read back as the history fetched")
	}
	if err := Replay(back); err != nil {
		return 0, fmt.Errorf("the recorded history does not replay on today's code: %w", err)
	}
	return len(hist.Events), writeFile(file, data, force)
}

// FetchHistory reads every event of a closed run.
func FetchHistory(ctx context.Context, c client.Client, workflowID, runID string) (*historypb.History, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	if len(hist.Events) == 0 {
		return nil, fmt.Errorf("history of %s is empty", workflowID)
	}
	return hist, nil
}

// MarshalHistory is the JSON of `temporal workflow show --output json`: protojson with
// TYPE_PREFIXED enum names and full (not shorthand) payloads, indented by one space.
func MarshalHistory(h *historypb.History) ([]byte, error) {
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: " "}.Marshal(h)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Replay replays a history on today's workflow code with every workflow type registered.
func Replay(h *historypb.History) error {
	r := worker.NewWorkflowReplayer()
	for _, wf := range Workflows {
		r.RegisterWorkflow(wf)
	}
	return r.ReplayWorkflowHistory(nil, h)
}

// writeFile writes through a temporary file; without force it refuses an existing file even
// if one appeared since Plan looked.
func writeFile(file string, data []byte, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".record-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if force {
		return os.Rename(tmp.Name(), file)
	}
	if err := os.Link(tmp.Name(), file); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: not overwriting it without -force", file)
		}
		return err
	}
	return nil
}
