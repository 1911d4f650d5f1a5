//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/workflows"
)

// bridgeRun is one archive a row uploaded and notified: the run it must start (RecordID, ""
// when the poll must start nothing) and how it must end.
type bridgeRun struct {
	c              badinput.Case
	what, recordID string
}

// runBridgeCorpus: the notifications and record ids the poll must ignore go first, one at a
// time: each is polled alone and must start nothing and leave no message. Then every bad
// archive is uploaded with the S3 metadata of a record of its own (or a valid one with bad
// metadata) and notified, and the poll starts them all: each run fails with its type and
// writes nothing but its refusal marker, the invalid queue gets nothing and every
// notification is deleted.
func runBridgeCorpus(t *testing.T, b *badInputDeployment, cases []badinput.Case) {
	stamp := token()
	dataBefore := objects(t, b.s3, b.data, "")
	n := 0
	record := func() bridgedata.Spec {
		n++
		return bridgedata.Spec{RecordID: fmt.Sprintf("badinput%s-%03d", stamp, n), AssessmentID: "spelling"}
	}
	// The archive the bad notifications name: valid, so only the notification is at fault,
	// and its run must never start.
	named := record()
	b.upload(t, bridgedata.Good(named))
	ignoredBy := func(t *testing.T, c badinput.Case, what string) {
		t.Helper()
		started, ignored := b.pollUntilEmpty(t)
		ok := assert.Zero(t, started, "%s: a run was started", what)
		ok = assert.Equal(t, 1, ignored, "%s: the notification is counted as ignored", what) && ok
		observed := badinput.Ignored
		if !ok {
			observed = fmt.Sprintf("%d started, %d ignored", started, ignored)
		}
		b.report.add(c, observed, ok)
	}
	var runs []bridgeRun
	var archives []badinput.Case // notified together once the ignored inputs are done
	for _, c := range cases {
		switch {
		case strings.HasPrefix(c.Path, "zips/") || c.Path == "names/bridge-metadata.json":
			archives = append(archives, c)
		case strings.HasPrefix(c.Path, "sqs/"):
			t.Run(c.Path, func(t *testing.T) {
				body := strings.NewReplacer(badinput.BucketToken, b.archives, badinput.KeyToken, bridgedata.Good(named).Key()).Replace(string(corpus(t, c.Path)))
				require.NoError(t, b.sqs.Send(waitCtx(t, 10*time.Second), b.notificationURL, body))
				ignoredBy(t, c, c.Path)
			})
		case c.Path == "names/bridge-recordid.json":
			var ids []string
			require.NoError(t, json.Unmarshal(corpus(t, c.Path), &ids))
			t.Run(c.Path, func(t *testing.T) {
				for i, id := range ids {
					a := bridgedata.Good(record())
					a.Metadata["recordid"] = id
					key := fmt.Sprintf("badinput%s-recordid-%d.zip", stamp, i)
					require.NoError(t, bridgedata.Upload(waitCtx(t, 10*time.Second), b.s3, b.archives, key, a))
					b.notify(t, key)
					ignoredBy(t, c, fmt.Sprintf("recordid %q", id))
					out, err := b.starter("bridge", "--key", "s3://"+b.archives+"/"+key, "--wait")
					assert.Error(t, err, "opsflow bridge --key of an archive with recordid %q: %s", id, out)
					assert.Contains(t, out, "its recordid metadata", "recordid %q", id)
					assert.Empty(t, startedID(out), "recordid %q: a run was started: %s", id, out)
				}
			})
		case c.Path == "names/bridge-dataset.json":
			t.Run(c.Path, func(t *testing.T) { bridgeBadDatasets(t, b, c) })
		default:
			t.Fatalf("no Bridge row runs %s", c.Path)
		}
	}
	for _, c := range archives {
		switch {
		case strings.HasPrefix(c.Path, "zips/"):
			spec := record()
			a := bridgedata.Archive{Spec: spec, Zip: corpus(t, c.Path), Metadata: bridgedata.Metadata(spec)}
			b.notify(t, b.upload(t, a))
			runs = append(runs, bridgeRun{c, c.Path, spec.RecordID})
		case c.Path == "names/bridge-metadata.json":
			var overrides []map[string]string
			require.NoError(t, json.Unmarshal(corpus(t, c.Path), &overrides))
			for _, o := range overrides {
				a := bridgedata.Good(record())
				for k, v := range o {
					a.Metadata[k] = v
				}
				b.notify(t, b.upload(t, a))
				runs = append(runs, bridgeRun{c, fmt.Sprintf("%s %v", c.Path, o), a.Spec.RecordID})
			}
		}
	}

	started, ignored := b.pollUntilEmpty(t)
	assert.Equal(t, len(runs), started, "archives started")
	assert.Zero(t, ignored, "notifications of archives ignored")
	b.archiveRuns(t, len(runs))
	for _, r := range runs {
		t.Run(r.what, func(t *testing.T) {
			b.refused(t, r.c, b.runErr(t, workflows.BridgeArchiveWorkflowID(r.recordID), 2*time.Minute), r.what)
		})
	}
	b.assertNoRun(t, workflows.BridgeArchiveWorkflowID(named.RecordID), "the archive the bad notifications name")

	allowed := map[string]bool{}
	for _, r := range runs {
		allowed[bridge.RefusedMarkerKey(r.recordID)] = true
	}
	after := objects(t, b.s3, b.data, "")
	assertSameObjects(t, dataBefore, after, allowed, "Bridge data bucket (NDJSON, record markers, Parquet)")
	for _, r := range runs {
		assert.Contains(t, after, bridge.RefusedMarkerKey(r.recordID), "%s: the refusal is recorded", r.what)
	}
	msgs, err := b.sqs.Receive(waitCtx(t, 10*time.Second), b.invalidURL, 10, time.Second)
	require.NoError(t, err)
	assert.Empty(t, msgs, "a refused record went to the invalid queue")
	assert.Len(t, b.archiveRuns(t, len(runs))[enumspb.WORKFLOW_EXECUTION_STATUS_FAILED], len(runs), "one failed run per refused archive, no other")
}

// pollUntilEmpty triggers the bridge-notifications schedule until the notification queue is
// empty and returns the archives it started and the notifications it ignored. One poll ends at
// its first empty receive, which a busy SQS server may answer early; the rest waits for the
// next poll, as with the schedule. A notification never deleted fails the test.
func (b *badInputDeployment) pollUntilEmpty(t *testing.T) (started, ignored int) {
	t.Helper()
	for polls := 1; ; polls++ {
		out := b.trigger(t, "bridge-notifications")
		m := drainCounts.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		assert.Equal(t, "0", m[3], "already started: %s", out)
		started, ignored = started+atoi(t, m[2]), ignored+atoi(t, m[4])
		visible, inFlight, err := b.sqs.ApproximateCount(waitCtx(t, 10*time.Second), b.notificationURL)
		require.NoError(t, err)
		if visible+inFlight == 0 {
			return started, ignored
		}
		require.Less(t, polls, 5, "notifications left on the queue after %d polls (a bad one is never deleted): %s", polls, out)
	}
}

var drainCounts = regexp.MustCompile(`notifications (\d+), archives started (\d+), already started (\d+), ignored (\d+)`)

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// bridgeBadDatasets: `opsflow bridge --dataset` refuses ids that would change a key's shape
// before starting anything; a run started with one by the Temporal CLI fails (InvalidInput)
// before listing anything.
func bridgeBadDatasets(t *testing.T, b *badInputDeployment, c badinput.Case) {
	var ids []string
	require.NoError(t, json.Unmarshal(corpus(t, c.Path), &ids))
	concurrently(t, flatAll(ids), 4, func(t *testing.T, i int) {
		ds := ids[i]
		out, err := b.starter("bridge", "--dataset", ds, "--wait")
		assert.Error(t, err, "opsflow bridge --dataset %q: %s", ds, out)
		assert.Contains(t, out, "--dataset", "opsflow bridge --dataset %q", ds)
		assert.Empty(t, startedID(out), "opsflow bridge --dataset %q started a run: %s", ds, out)
		id := fmt.Sprintf("badinput-dataset-%d-%s", i, b.taskQueue)
		input, err := json.Marshal(map[string]string{"dataset": ds, "environment": b.environment})
		require.NoError(t, err)
		b.temporalCLI("workflow", "start", "--type", "BridgeJSONToParquet", "--task-queue", b.taskQueue, "--workflow-id", id, "--input", string(input))
		b.refused(t, c, b.runErr(t, id, 2*time.Minute), fmt.Sprintf("Temporal CLI start of dataset %q", ds))
	})
}
