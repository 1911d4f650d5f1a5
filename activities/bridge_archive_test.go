package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/safearchive"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// bridgeFixture is stage 1 against the stack's S3 (an archive and a data bucket) and SQS
// (an invalid and a notification queue), all fresh.
type bridgeFixture struct {
	acts *BridgeArchiveActivities
	s3   *s3.Client
	sqs  *sqsclient.Client
}

func newBridgeFixture(t *testing.T) bridgeFixture {
	t.Helper()
	c, archives := s3test.NewBucket(t)
	_, data := s3test.NewBucket(t)
	endpoint := os.Getenv("OPSFLOW_SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("OPSFLOW_SQS_ENDPOINT must point at the dev stack's SQS: eval \"$(scripts/stack env)\" (scripts/stack up starts it)")
	}
	q, err := sqsclient.New(context.Background(), endpoint, "us-east-1")
	require.NoError(t, err)
	queue := func(name string) string {
		url, err := q.EnsureQueue(context.Background(), fmt.Sprintf("%s-%d", name, time.Now().UnixNano()))
		require.NoError(t, err, "SQS at %s (scripts/stack up)", endpoint)
		t.Cleanup(func() { _ = q.DeleteQueue(context.Background(), url) })
		return url
	}
	m, err := bridge.LoadMapping(bridgedata.MappingFile())
	require.NoError(t, err)
	return bridgeFixture{s3: c, sqs: q, acts: &BridgeArchiveActivities{
		S3: c, SQS: q, ArchiveBucket: archives, DataBucket: data, Mapping: m,
		InvalidQueueURL: queue("bridge-invalid-test"), NotificationQueueURL: queue("bridge-events-test"),
		Limits: safearchive.ZipLimits{MaxEntries: 100, MaxBytes: 16 << 20, MaxRatio: 200}, TempDir: t.TempDir(),
	}}
}

func (f bridgeFixture) upload(t *testing.T, a bridgedata.Archive) BridgeArchive {
	t.Helper()
	key := "exports/" + a.Key()
	require.NoError(t, bridgedata.Upload(context.Background(), f.s3, f.acts.ArchiveBucket, key, a))
	return BridgeArchive{Bucket: f.acts.ArchiveBucket, Key: key}
}

func (f bridgeFixture) convert(t *testing.T, in BridgeArchive) (ArchiveToJSONResult, error) {
	t.Helper()
	env := activityEnv()
	env.RegisterActivity(f.acts)
	v, err := env.ExecuteActivity(f.acts.ArchiveToJSON, in)
	if err != nil {
		return ArchiveToJSONResult{}, err
	}
	var res ArchiveToJSONResult
	require.NoError(t, v.Get(&res))
	return res, nil
}

func (f bridgeFixture) get(t *testing.T, key string) ([]byte, map[string]string) {
	t.Helper()
	out, err := f.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(f.acts.DataBucket), Key: aws.String(key)})
	require.NoError(t, err, key)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return b, out.Metadata
}

func (f bridgeFixture) dataKeys(t *testing.T) []string {
	t.Helper()
	out, err := f.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(f.acts.DataBucket)})
	require.NoError(t, err)
	keys := []string{}
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// invalidMessages receives (and deletes) what the invalid queue holds.
func (f bridgeFixture) invalidMessages(t *testing.T) []string {
	t.Helper()
	var out []string
	for {
		msgs, err := f.sqs.Receive(context.Background(), f.acts.InvalidQueueURL, sqsclient.MaxBatch, time.Second)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			out = append(out, m.Body)
		}
		require.NoError(t, f.sqs.Delete(context.Background(), f.acts.InvalidQueueURL, msgs))
	}
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v))
	return v
}

// expectedLines is what the original injects, computed from the archive's file alone.
func expectedLines(t *testing.T, a bridgedata.Archive, file, dataset string) []any {
	t.Helper()
	doc := decodeNumbers(t, a.Files[file])
	list, isList := doc.([]any)
	if !isList {
		list = []any{doc}
	}
	for _, el := range list {
		o := el.(map[string]any)
		o["year"], o["month"], o["day"] = json.Number("2022"), json.Number("9"), json.Number("1")
		if dataset == "ArchiveMetadata_v1" {
			for k, v := range a.Metadata {
				o[k] = v
			}
		} else {
			o["assessmentid"], o["recordid"] = a.Spec.AssessmentID, a.Spec.RecordID
		}
	}
	return list
}

func ndjsonLines(t *testing.T, b []byte) []any {
	t.Helper()
	require.True(t, bytes.HasSuffix(b, []byte("\n")))
	var out []any
	for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
		out = append(out, decodeNumbers(t, []byte(line)))
	}
	return out
}

func TestArchiveToJSONWritesEachDatasetWithTheInjectedFieldsAndTheMarkerLast(t *testing.T) {
	f := newBridgeFixture(t)
	a := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(100)})
	rid := a.Spec.RecordID
	in := f.upload(t, a)
	res, err := f.convert(t, in)
	require.NoError(t, err)

	key := func(ds string) string {
		return "raw_json/dataset=" + ds + "/assessmentid=spelling/year=2022/month=9/day=1/" + rid + ".ndjson"
	}
	assert.Equal(t, ArchiveToJSONResult{RecordID: rid, Unmapped: []string{"info.json"}, MarkerKey: "raw_json/_records/" + rid + ".json",
		Datasets: []bridge.DatasetWritten{
			{Dataset: "ArchiveMetadata_v1", Key: key("ArchiveMetadata_v1"), Lines: 1},
			{Dataset: "AudioLevelRecord_v1", Key: key("AudioLevelRecord_v1"), Lines: 10},
			{Dataset: "MotionRecord_v1", Key: key("MotionRecord_v1"), Lines: 120},
			{Dataset: "TaskResult_v1", Key: key("TaskResult_v1"), Lines: 1},
			{Dataset: "WeatherResult_v1", Key: key("WeatherResult_v1"), Lines: 1},
			{Dataset: "sharedSchema_v1", Key: key("sharedSchema_v1"), Lines: 1},
		}}, res)
	files := map[string]string{"ArchiveMetadata_v1": "metadata.json", "AudioLevelRecord_v1": "microphone.json", "MotionRecord_v1": "motion.json",
		"TaskResult_v1": "taskResult.json", "WeatherResult_v1": "weather.json", "sharedSchema_v1": "taskData.json"}
	for _, d := range res.Datasets {
		body, md := f.get(t, d.Key)
		assert.Equal(t, expectedLines(t, a, files[d.Dataset], d.Dataset), ndjsonLines(t, body), d.Dataset)
		assert.Equal(t, rid, md["recordid"], "the archive's S3 metadata is copied onto the put, as the original")
	}
	weather, _ := f.get(t, key("WeatherResult_v1"))
	assert.Regexp(t, `^\{"airQuality":\{"aqi":\d+,"category":\{"name":"Good","number":1\},"provider":"airNow"\},"assessmentid":"spelling","day":1,"endDate":"2022-09-01T[0-9:.]+Z","identifier":"weather","month":9,"recordid":"`+rid+`","startDate":"2022-09-01T18:38:15.000Z","type":"weather","weather":\{.*"wind":\{"degrees":\d+,"gust":null,"speed":[0-9.]+\}\},"year":2022\}\n$`, string(weather))

	marker, _ := f.get(t, res.MarkerKey)
	var summary bridge.RecordSummary
	require.NoError(t, json.Unmarshal(marker, &summary))
	assert.Equal(t, bridge.RecordSummary{RecordID: rid, SourceBucket: in.Bucket, SourceKey: in.Key, Datasets: res.Datasets, Unmapped: []string{"info.json"}}, summary)
	assert.Empty(t, f.invalidMessages(t))

	out, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(out)+string(marker), a.Metadata["healthcode"], "the sensitive health code stays out of results and markers")

	// Converted again (a redelivered notification, a retried run): the same keys, overwritten.
	before := f.dataKeys(t)
	assert.Len(t, before, 7)
	again, err := f.convert(t, in)
	require.NoError(t, err)
	assert.Equal(t, res, again)
	assert.Equal(t, before, f.dataKeys(t))
}

func TestArchiveToJSONSendsAnInvalidRecordToTheInvalidQueueAndWritesNoDataset(t *testing.T) {
	f := newBridgeFixture(t)
	a := bridgedata.FailsSchema(bridgedata.Spec{RecordID: bridgedata.RecordID(101)})
	in := f.upload(t, a)
	res, err := f.convert(t, in)
	require.NoError(t, err)
	assert.Equal(t, ArchiveToJSONResult{RecordID: a.Spec.RecordID, Unmapped: []string{"info.json"}, Invalid: true,
		InvalidFiles: []InvalidFile{{File: "weather.json", Errors: 2}}, Datasets: nil,
		MarkerKey: bridge.RecordMarkerKey(a.Spec.RecordID)}, res)

	msgs := f.invalidMessages(t)
	require.Len(t, msgs, 1)
	assert.JSONEq(t, fmt.Sprintf(`{"source_bucket":%q,"source_key":%q,"validation_result":{
		"assessmentId":"spelling","assessmentRevision":5,"appId":"mobile-toolbox","recordId":%q,
		"schema_url":%q,
		"errors":{"weather.json":["at '': missing property 'identifier'","at '/weather/temperature': got string, want number"]}}}`,
		in.Bucket, in.Key, a.Spec.RecordID, bridgedata.WeatherSchema), msgs[0])
	assert.NotContains(t, msgs[0], a.Metadata["healthcode"])

	assert.Equal(t, []string{bridge.RecordMarkerKey(a.Spec.RecordID)}, f.dataKeys(t), "no dataset written, only the marker")
	marker, _ := f.get(t, res.MarkerKey)
	assert.JSONEq(t, fmt.Sprintf(`{"recordid":%q,"source_bucket":%q,"source_key":%q,"datasets":[],"unmapped":["info.json"],
		"invalid":true,"invalid_files":{"weather.json":2}}`, a.Spec.RecordID, in.Bucket, in.Key), string(marker))
}

func requireNonRetryable(t *testing.T, err error, typ string) string {
	t.Helper()
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, typ, app.Type(), "%v", err)
	assert.True(t, app.NonRetryable(), "%v", err)
	return err.Error()
}

// A batch of archives, the bad ones among good ones: each bad one is refused with its own
// error (or, for an unknown assessment, reported), nothing is written for it, and the good
// ones are converted as if alone.
func TestArchiveToJSONRefusesBadArchivesWithoutTouchingTheOthers(t *testing.T) {
	f := newBridgeFixture(t)
	spec := func(n int) bridgedata.Spec { return bridgedata.Spec{RecordID: bridgedata.RecordID(200 + n)} }
	noRecordID := bridgedata.Good(spec(9))
	delete(noRecordID.Metadata, "recordid")
	badRevision := bridgedata.Good(spec(10))
	badRevision.Metadata["assessmentrevision"] = "five"
	cases := []struct {
		archive bridgedata.Archive
		errType string // "" = converted
		says    string
	}{
		{bridgedata.Good(spec(0)), "", ""},
		{bridgedata.Truncated(spec(1)), ErrBridgeMalformedArchive, "not a readable ZIP archive"},
		{bridgedata.ZipSlip(spec(2)), ErrBridgeUnsafeArchive, `zip entry "../../etc/cron.d/evil.json" refused (unsafe name)`},
		{bridgedata.Bomb(spec(3), 64<<20), ErrBridgeArchiveTooLarge, `zip entry "taskData.json" refused (too large)`},
		{bridgedata.MalformedJSON(spec(4)), ErrBridgeMalformedJSON, "taskData.json is not JSON"},
		{bridgedata.UnknownAssessment(spec(5)), "", ""},
		{noRecordID, ErrBridgeArchiveMetadata, "S3 metadata has no recordid"},
		{badRevision, ErrBridgeArchiveMetadata, `assessmentrevision "five"`},
		{bridgedata.Good(spec(6)), "", ""},
	}
	results := map[string]ArchiveToJSONResult{}
	for _, c := range cases {
		res, err := f.convert(t, f.upload(t, c.archive))
		if c.errType == "" {
			require.NoError(t, err, c.archive.Spec.RecordID)
			results[c.archive.Spec.RecordID] = res
			continue
		}
		msg := requireNonRetryable(t, err, c.errType)
		assert.Contains(t, msg, c.says)
		assert.Contains(t, msg, "exports/"+c.archive.Key(), "the error names the archive")
		assert.NotContains(t, msg, c.archive.Metadata["healthcode"])
	}
	_, err := f.convert(t, BridgeArchive{Bucket: f.acts.ArchiveBucket, Key: "exports/absent.zip"})
	requireNonRetryable(t, err, ErrBridgeArchiveNotFound)

	keys := f.dataKeys(t)
	for _, c := range cases {
		rid := c.archive.Spec.RecordID
		var mine []string
		for _, k := range keys {
			if strings.Contains(k, rid) {
				mine = append(mine, k)
			}
		}
		if c.errType != "" {
			assert.Empty(t, mine, "nothing written for refused record %s", rid)
			continue
		}
		assert.Len(t, mine, len(results[rid].Datasets)+1, rid)
	}
	good := results[spec(0).RecordID]
	assert.Len(t, good.Datasets, 6)
	assert.Equal(t, good.Datasets[2].Lines, results[spec(6).RecordID].Datasets[2].Lines)
	unknown := results[spec(5).RecordID]
	assert.Equal(t, []string{"info.json", "taskResult.json"}, unknown.Unmapped, "the unknown assessment's legacy-mapped file is reported")
	var written []string
	for _, d := range unknown.Datasets {
		written = append(written, d.Dataset)
		assert.Contains(t, d.Key, "/assessmentid=unknownassessment/")
	}
	assert.Equal(t, []string{"ArchiveMetadata_v1", "AudioLevelRecord_v1", "MotionRecord_v1", "WeatherResult_v1", "sharedSchema_v1"}, written,
		"files the archive's own schema references map are still written")
	assert.Empty(t, f.invalidMessages(t))
}

func TestRecordIDOf(t *testing.T) {
	f := newBridgeFixture(t)
	env := activityEnv()
	env.RegisterActivity(f.acts)
	a := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(300)})
	v, err := env.ExecuteActivity(f.acts.RecordIDOf, f.upload(t, a))
	require.NoError(t, err)
	var id string
	require.NoError(t, v.Get(&id))
	assert.Equal(t, a.Spec.RecordID, id)

	_, err = env.ExecuteActivity(f.acts.RecordIDOf, BridgeArchive{Bucket: f.acts.ArchiveBucket, Key: "absent.zip"})
	requireNonRetryable(t, err, ErrBridgeArchiveNotFound)
	a.Metadata["recordid"] = "../../x"
	_, err = env.ExecuteActivity(f.acts.RecordIDOf, f.upload(t, a))
	assert.Contains(t, requireNonRetryable(t, err, ErrBridgeArchiveMetadata), `record id "../../x"`)
}
