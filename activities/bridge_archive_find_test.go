package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// fakeStarter stands in for the workflow start: the first start of a record id starts,
// later ones find the run (as a workflow id does).
type fakeStarter struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (s *fakeStarter) start(_ context.Context, recordID string, archive BridgeArchive) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return false, s.fail
	}
	first := true
	for _, c := range s.calls {
		if c == recordID+" "+archive.Key {
			first = false
		}
	}
	s.calls = append(s.calls, recordID+" "+archive.Key)
	return first, nil
}

// s3EventBody is an S3 event notification as S3 sends it (the key URL-encoded).
func s3EventBody(bucket, key string) string {
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
		"eventTime":"2022-09-01T18:48:16.167Z","eventName":"ObjectCreated:Put",
		"s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},
		"object":{"key":%q,"size":279963,"eTag":"2f23f7dca97734a9910816af8ee01ae7"}}}]}`, bucket, bucket, url.QueryEscape(key))
}

func snsEnvelope(message string) string {
	return fmt.Sprintf(`{"Type":"Notification","MessageId":"7a6c5b1e","TopicArn":"arn:aws:sns:us-east-1:1:bridge-input","Message":%q}`, message)
}

func (f bridgeFixture) drain(t *testing.T, max int) (DrainResult, error) {
	t.Helper()
	env := activityEnv()
	env.RegisterActivity(f.acts)
	v, err := env.ExecuteActivity(f.acts.DrainArchiveNotifications, DrainInput{Max: max})
	if err != nil {
		return DrainResult{}, err
	}
	var res DrainResult
	require.NoError(t, v.Get(&res))
	return res, nil
}

func (f bridgeFixture) queueHolds(t *testing.T, url string) int {
	t.Helper()
	visible, inFlight, err := f.sqs.ApproximateCount(context.Background(), url)
	require.NoError(t, err)
	return visible + inFlight
}

// A notification delivered twice starts the run twice; the second start finds the run
// (started=false). Every message is deleted once Start returned, the malformed ones too.
func TestDrainArchiveNotificationsStartsEachArchiveAndDeletesEveryMessage(t *testing.T) {
	f := newBridgeFixture(t)
	starter := &fakeStarter{}
	f.acts.Start = starter.start
	a1 := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(400)})
	a2 := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(401)})
	key1 := "exports/2022 09/" + a1.Key() // a space: URL-encoded as + in the event
	require.NoError(t, bridgedata.Upload(context.Background(), f.s3, f.acts.ArchiveBucket, key1, a1))
	in2 := f.upload(t, a2)
	noID := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(402)})
	delete(noID.Metadata, "recordid")
	inNoID := f.upload(t, noID)
	event1 := s3EventBody(f.acts.ArchiveBucket, key1)
	require.NoError(t, f.sqs.Send(context.Background(), f.acts.NotificationQueueURL,
		event1,
		`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2022-09-01T18:00:00.000Z","Bucket":"b","RequestId":"r"}`,
		"not json: a healthcode 8d6L6xdo7u8jlszxR-ZkHW_q",
		s3EventBody(f.acts.ArchiveBucket, "exports/owner.txt"),
		snsEnvelope(s3EventBody(in2.Bucket, in2.Key)),
		s3EventBody("another-bucket", "exports/x.zip"),
		s3EventBody(f.acts.ArchiveBucket, "exports/deleted.zip"),
		s3EventBody(inNoID.Bucket, inNoID.Key),
		`{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k.zip"}}}]}`,
		event1, // delivered twice
	))
	res, err := f.drain(t, 100)
	require.NoError(t, err)
	assert.Equal(t, DrainResult{Received: 10, Started: 2, Duplicates: 1, Ignored: 7}, res)
	assert.ElementsMatch(t, []string{a1.Spec.RecordID + " " + key1, a2.Spec.RecordID + " " + in2.Key, a1.Spec.RecordID + " " + key1}, starter.calls)
	assert.Zero(t, f.queueHolds(t, f.acts.NotificationQueueURL), "every message deleted")

	res, err = f.drain(t, 100)
	require.NoError(t, err)
	assert.Equal(t, DrainResult{}, res, "an empty queue: nothing received")
}

func TestDrainArchiveNotificationsKeepsAMessageWhoseStartFailed(t *testing.T) {
	f := newBridgeFixture(t)
	require.NoError(t, f.sqs.SetVisibilityTimeout(context.Background(), f.acts.NotificationQueueURL, time.Second))
	starter := &fakeStarter{fail: errors.New("temporal unreachable")}
	f.acts.Start = starter.start
	in := f.upload(t, bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(410)}))
	require.NoError(t, f.sqs.Send(context.Background(), f.acts.NotificationQueueURL, s3EventBody(in.Bucket, in.Key)))
	_, err := f.drain(t, 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "temporal unreachable")
	assert.Equal(t, 1, f.queueHolds(t, f.acts.NotificationQueueURL), "not deleted: delivered again")

	starter.fail = nil
	time.Sleep(1500 * time.Millisecond) // the visibility timeout
	res, err := f.drain(t, 10)
	require.NoError(t, err)
	assert.Equal(t, DrainResult{Received: 1, Started: 1}, res)
	assert.Zero(t, f.queueHolds(t, f.acts.NotificationQueueURL))
}

func TestDrainArchiveNotificationsStopsAtMax(t *testing.T) {
	f := newBridgeFixture(t)
	f.acts.Start = (&fakeStarter{}).start
	var bodies []string
	for range 15 {
		bodies = append(bodies, `{"Service":"Amazon S3","Event":"s3:TestEvent"}`)
	}
	require.NoError(t, f.sqs.Send(context.Background(), f.acts.NotificationQueueURL, bodies...))
	res, err := f.drain(t, 12)
	require.NoError(t, err)
	assert.Equal(t, DrainResult{Received: 12, Ignored: 12}, res)
	assert.Equal(t, 3, f.queueHolds(t, f.acts.NotificationQueueURL))
}

func TestSweepArchivesPagesThroughTheBucketSkippingProcessedRecords(t *testing.T) {
	f := newBridgeFixture(t)
	var unprocessed []BridgeArchive
	for i := range 4 {
		a := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(500 + i)})
		in := f.upload(t, a)
		if i == 1 {
			_, err := f.convert(t, in)
			require.NoError(t, err)
			continue
		}
		in.RecordID = a.Spec.RecordID
		unprocessed = append(unprocessed, in)
	}
	s3test.Put(t, f.s3, f.acts.ArchiveBucket, "exports/owner.txt", []byte("bridge"), nil)
	s3test.Put(t, f.s3, f.acts.ArchiveBucket, "other/x.zip", []byte("not ours"), nil)
	noID := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(510)})
	noID.Metadata["recordid"] = ""
	inNoID := f.upload(t, noID)

	env := activityEnv()
	env.RegisterActivity(f.acts)
	var all SweepPage
	cursor, pages := "", 0
	for {
		v, err := env.ExecuteActivity(f.acts.SweepArchives, SweepInput{Prefix: "exports/", Cursor: cursor, Limit: 2})
		require.NoError(t, err)
		var page SweepPage
		require.NoError(t, v.Get(&page))
		pages++
		all.Archives = append(all.Archives, page.Archives...)
		all.Processed += page.Processed
		all.Skipped += page.Skipped
		all.Unidentified = append(all.Unidentified, page.Unidentified...)
		if page.NextCursor == "" {
			break
		}
		require.Greater(t, page.NextCursor, cursor)
		cursor = page.NextCursor
	}
	assert.Equal(t, 3, pages, "6 keys, 2 per page")
	assert.ElementsMatch(t, unprocessed, all.Archives)
	assert.Equal(t, 1, all.Processed)
	assert.Equal(t, 1, all.Skipped)
	assert.Equal(t, []string{inNoID.Key}, all.Unidentified)
}
