//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/codec"
	"github.com/opsflow/opsflow/internal/testsupport/leakscan"
)

// The places a run's data can surface outside the encrypted payloads, in the report's order.
const (
	placeHistory    = "history"           // temporal workflow show -o json, no codec, every run and child
	placeSearchAttr = "search attributes" // the visibility record's indexed fields
	placeMemo       = "memo"              // the visibility record's memo
	placeIDs        = "ids"               // the visibility record's workflow id, type and task queue
	placeLogs       = "logs"              // every worker's log file
	placeStarter    = "starter log"       // every opsflow invocation's stderr (its log and errors)
	placeStarterOut = "starter output"    // the stdout of every opsflow invocation given no secret
	placeStarterAsk = "starter answer"    // the stdout of one given a secret (--package NAME): credentials only
	placeMetrics    = "metrics"           // every worker's /metrics
	placeSchedules  = "schedules"         // temporal schedule describe -o json
	placeMail       = "e-mails"           // the run's e-mails in MailDev (ELLA)
)

var leakPlaces = []string{placeHistory, placeSearchAttr, placeMemo, placeIDs, placeLogs, placeStarter, placeStarterOut, placeStarterAsk, placeMetrics, placeSchedules, placeMail}

// leakReport is the procedure × place table the security test prints at its end.
type leakReport struct {
	mu   sync.Mutex
	rows map[string]map[string]string
}

func (r *leakReport) set(procedure, place, cell string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rows == nil {
		r.rows = map[string]map[string]string{}
	}
	if r.rows[procedure] == nil {
		r.rows[procedure] = map[string]string{}
	}
	r.rows[procedure][place] = cell
}

func (r *leakReport) table() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString("| procedure | " + strings.Join(leakPlaces, " | ") + " | workflow types checked |\n|---|" + strings.Repeat("---|", len(leakPlaces)+1) + "\n")
	procs := make([]string, 0, len(r.rows))
	for p := range r.rows {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	for _, p := range procs {
		b.WriteString("| " + p)
		for _, place := range leakPlaces {
			cell := r.rows[p][place]
			if cell == "" {
				cell = "n/a"
			}
			b.WriteString(" | " + cell)
		}
		b.WriteString(" | " + r.rows[p]["types"] + " |\n")
	}
	return b.String()
}

// leakCheck gathers, for one procedure run in its own deployment, the secrets it must keep
// and everything the deployment left outside encrypted payloads, then scans it all.
type leakCheck struct {
	t         *testing.T
	d         *deployment
	procedure string
	report    *leakReport
	secrets   []leakscan.Secret
	// credentials are the secrets no output may show, not even the starter's answer to the
	// operator who named a package (it holds the keys and typed the name: `opsflow import
	// --package NAME --wait` prints where NAME landed, or why it was refused).
	credentials []leakscan.Secret
	schedules   []string
	mailTo      []string
	types       []string // workflow types that must have been run and checked
	starterLog  *os.File
	starterOut  *os.File
	starterAsk  *os.File
}

func newLeakCheck(t *testing.T, d *deployment, procedure string, report *leakReport) *leakCheck {
	c := &leakCheck{t: t, d: d, procedure: procedure, report: report}
	var err error
	c.starterLog, err = os.Create(filepath.Join(d.dir, "starter.log"))
	require.NoError(t, err)
	c.starterOut, err = os.Create(filepath.Join(d.dir, "starter.out"))
	require.NoError(t, err)
	c.starterAsk, err = os.Create(filepath.Join(d.dir, "starter-asked.out"))
	require.NoError(t, err)
	t.Cleanup(func() { c.starterLog.Close(); c.starterOut.Close(); c.starterAsk.Close() })
	// The deployment's credentials, in every procedure.
	token, err := os.ReadFile(ellaStackEnv(t, "OPSFLOW_CODEC_TOKEN_FILE"))
	require.NoError(t, err)
	c.credential("codec token", strings.TrimSpace(string(token)))
	keys, err := os.ReadFile(ellaStackEnv(t, "OPSFLOW_CODEC_KEYS_FILE"))
	require.NoError(t, err)
	parsed, err := codec.ParseKeys(string(keys))
	require.NoError(t, err)
	require.NotEmpty(t, parsed)
	for _, k := range parsed {
		c.credential("codec key "+k.ID, string(k.Secret)) // raw bytes: their base64 is the keys file's text
		c.credential("codec key "+k.ID+" as written", base64.StdEncoding.EncodeToString(k.Secret))
	}
	c.credential("identifier key", ellaStackEnv(t, "OPSFLOW_IDENTIFIER_KEY"))
	c.credential("S3 secret key", ellaStackEnv(t, "OPSFLOW_S3_SECRET_KEY"))
	return c
}

// secret adds a value the procedure's run must never show.
func (c *leakCheck) secret(name, value string) {
	c.secrets = append(c.secrets, leakscan.Secret{Name: name, Value: value})
}

// credential adds a secret that no output may show, the starter's answers included.
func (c *leakCheck) credential(name, value string) {
	c.secret(name, value)
	c.credentials = append(c.credentials, leakscan.Secret{Name: name, Value: value})
}

// expect names workflow types the procedure's run must have started, so a run that did less
// than the test thinks fails instead of passing on less data.
func (c *leakCheck) expect(types ...string) { c.types = append(c.types, types...) }

// starter runs the opsflow starter like d.starter (returning stdout and stderr together) and
// keeps its stderr, its log, in starter.log and its stdout in starter.out, or, when an
// argument holds a secret, in starter-asked.out.
func (c *leakCheck) starter(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.d.bin, "opsflow"), args...)
	cmd.Env = c.d.env
	var stdout, stderr, both bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&stdout, &both), io.MultiWriter(&stderr, &both)
	err := cmd.Run()
	_, _ = c.starterLog.Write(stderr.Bytes())
	out := c.starterOut
	if len(leakscan.Must(c.secrets...).Scan("args", []byte(strings.Join(args, "\x00")))) > 0 {
		out = c.starterAsk
	}
	_, _ = out.Write(stdout.Bytes())
	return both.String(), err
}

type leakBlob struct {
	place, source string
	data          []byte
}

type leakExecution struct {
	WorkflowID string `json:"workflowId"`
	RunID      string `json:"runId"`
}

// runs lists the deployment's runs (by environment or central task queue) and follows every
// child workflow named in their histories, returning each run's raw history and the blobs of
// its visibility record, and the workflow types seen.
func (c *leakCheck) runs() ([]leakBlob, map[string]int) {
	d := c.d
	query := fmt.Sprintf(`OpsflowEnvironment = %q OR TaskQueue = %q`, d.environment, d.taskQueue)
	var listed []map[string]json.RawMessage
	require.NoError(c.t, json.Unmarshal([]byte(d.temporalCLI("workflow", "list", "--query", query, "--limit", "2000", "-o", "json")), &listed))
	var blobs []leakBlob
	types := map[string]int{}
	seen := map[leakExecution]bool{}
	var queue []leakExecution
	visibility := func(entry map[string]json.RawMessage) {
		var e struct {
			Execution leakExecution `json:"execution"`
			Type      struct {
				Name string `json:"name"`
			} `json:"type"`
		}
		require.NoError(c.t, json.Unmarshal(leakJSON(c.t, entry), &e))
		src := e.Type.Name + " " + e.Execution.WorkflowID + " " + e.Execution.RunID
		blobs = append(blobs, leakBlob{placeSearchAttr, src, entry["searchAttributes"]}, leakBlob{placeMemo, src, entry["memo"]})
		rest := map[string]json.RawMessage{}
		for k, v := range entry {
			if k != "searchAttributes" && k != "memo" {
				rest[k] = v
			}
		}
		blobs = append(blobs, leakBlob{placeIDs, src, leakJSON(c.t, rest)})
		types[e.Type.Name]++
		if !seen[e.Execution] {
			seen[e.Execution] = true
			queue = append(queue, e.Execution)
		}
	}
	for _, entry := range listed {
		visibility(entry)
	}
	for len(queue) > 0 {
		run := queue[0]
		queue = queue[1:]
		raw := d.temporalCLI("workflow", "show", "--workflow-id", run.WorkflowID, "--run-id", run.RunID, "-o", "json")
		blobs = append(blobs, leakBlob{placeHistory, run.WorkflowID + " " + run.RunID, []byte(raw)})
		var h struct {
			Events []map[string]json.RawMessage `json:"events"`
		}
		require.NoError(c.t, json.Unmarshal([]byte(raw), &h), "history of %s", run.WorkflowID)
		require.NotEmpty(c.t, h.Events, "history of %s", run.WorkflowID)
		for _, ev := range h.Events {
			attrs, ok := ev["childWorkflowExecutionStartedEventAttributes"]
			if !ok {
				continue
			}
			var child struct {
				WorkflowExecution leakExecution `json:"workflowExecution"`
			}
			require.NoError(c.t, json.Unmarshal(attrs, &child))
			if seen[child.WorkflowExecution] {
				continue
			}
			// A child on another task queue, without the environment: its own record.
			var described struct {
				Info map[string]json.RawMessage `json:"workflowExecutionInfo"`
			}
			require.NoError(c.t, json.Unmarshal([]byte(d.temporalCLI("workflow", "describe", "--workflow-id", child.WorkflowExecution.WorkflowID,
				"--run-id", child.WorkflowExecution.RunID, "-o", "json")), &described))
			visibility(described.Info)
		}
	}
	return blobs, types
}

// files returns the deployment's log files (every worker's, the starter's).
func (c *leakCheck) files() []leakBlob {
	logs, err := filepath.Glob(filepath.Join(c.d.dir, "*.log"))
	require.NoError(c.t, err)
	var out []leakBlob
	for _, path := range logs {
		data, err := os.ReadFile(path)
		require.NoError(c.t, err)
		place := placeLogs
		if filepath.Base(path) == "starter.log" {
			place = placeStarter
		}
		out = append(out, leakBlob{place, filepath.Base(path), data})
	}
	for place, name := range map[string]string{placeStarterOut: "starter.out", placeStarterAsk: "starter-asked.out"} {
		data, err := os.ReadFile(filepath.Join(c.d.dir, name))
		require.NoError(c.t, err)
		out = append(out, leakBlob{place, name, data})
	}
	return out
}

var leakMetricsURL = regexp.MustCompile(`"msg":"metrics endpoint","url":"([^"]+)"`)

// metrics fetches /metrics of every worker of the deployment (each logs its endpoint).
func (c *leakCheck) metrics(logs []leakBlob) []leakBlob {
	var out []leakBlob
	for _, l := range logs {
		for _, m := range leakMetricsURL.FindAllSubmatch(l.data, -1) {
			out = append(out, leakBlob{placeMetrics, string(m[1]), []byte(httpGet(c.t, string(m[1])))})
		}
	}
	return out
}

// check collects every place, scans it for every secret, fails on any finding and records
// what was covered in the report.
func (c *leakCheck) check() {
	t := c.t
	scanner, err := leakscan.New(c.secrets...)
	require.NoError(t, err)
	credentials, err := leakscan.New(c.credentials...)
	require.NoError(t, err)
	blobs, types := c.runs()
	files := c.files()
	blobs = append(append(blobs, files...), c.metrics(files)...)
	for _, id := range c.schedules {
		blobs = append(blobs, leakBlob{placeSchedules, id, []byte(c.d.temporalCLI("schedule", "describe", "--schedule-id", id, "-o", "json"))})
	}
	if len(c.mailTo) > 0 {
		mails := maildevTo(t, c.mailTo...)
		require.NotEmpty(t, mails, "%s: no e-mail to check", c.procedure)
		for _, m := range mails {
			blobs = append(blobs, leakBlob{placeMail, m.Subject, leakJSON(t, m)})
		}
	}
	count, size := map[string]int{}, map[string]int{}
	for _, b := range blobs {
		count[b.place]++
		size[b.place] += len(b.data)
		s := scanner
		if b.place == placeStarterAsk {
			s = credentials
		}
		for _, f := range s.Scan(b.place+" of "+b.source, b.data) {
			t.Errorf("%s: %s", c.procedure, f)
		}
	}
	for _, typ := range c.types {
		assert.Positive(t, types[typ], "%s: no %s run was found to check (types seen: %v)", c.procedure, typ, types)
	}
	for _, place := range []string{placeHistory, placeSearchAttr, placeMemo, placeIDs, placeLogs, placeStarterOut, placeMetrics} {
		assert.Positive(t, size[place], "%s: nothing collected from %s", c.procedure, place)
	}
	assert.Len(t, leakFilter(blobs, placeSchedules), len(c.schedules))
	for _, place := range leakPlaces {
		if count[place] > 0 && (place != placeStarterAsk || size[place] > 0) {
			what := "clean"
			if place == placeStarterAsk {
				what = "no credential"
			}
			c.report.set(c.procedure, place, fmt.Sprintf("%s (%d, %d KiB)", what, count[place], (size[place]+1023)/1024))
		}
	}
	c.report.set(c.procedure, "types", strings.Join(leakSortedKeys(types), ", "))
	t.Logf("%s: %d secrets in %d forms checked in %d blobs (%d KiB); workflow types %v", c.procedure, len(c.secrets),
		scanner.Needles(), len(blobs), leakTotal(size)/1024, types)
}

// decodedNames reads the history of the first run of workflowType through the stack's codec
// server and requires the secret there: the data the raw history was checked for really went
// through that run, encrypted.
func (c *leakCheck) decodedNames(workflowType, secretName string) {
	t := c.t
	var listed []struct {
		Execution leakExecution `json:"execution"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.d.temporalCLI("workflow", "list", "--query",
		fmt.Sprintf(`WorkflowType = %q AND (OpsflowEnvironment = %q OR TaskQueue = %q)`, workflowType, c.d.environment, c.d.taskQueue),
		"--limit", "1", "-o", "json")), &listed))
	require.NotEmpty(t, listed, "no %s run", workflowType)
	run := listed[0].Execution
	decoded := c.d.temporalCLIWithCodec("workflow", "show", "--workflow-id", run.WorkflowID, "--run-id", run.RunID, "-o", "json")
	var values []leakscan.Secret
	for _, s := range c.secrets {
		if s.Name == secretName {
			values = append(values, s)
		}
	}
	require.NotEmpty(t, values, "no secret named %q", secretName)
	assert.NotEmpty(t, leakscan.Must(values...).Scan("decoded history", []byte(decoded)),
		"%s: the history of %s read through the codec server names no %s: the check proves nothing", c.procedure, workflowType, secretName)
}

func leakFilter(blobs []leakBlob, place string) []leakBlob {
	var out []leakBlob
	for _, b := range blobs {
		if b.place == place {
			out = append(out, b)
		}
	}
	return out
}

func leakJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func leakSortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func leakTotal(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
