package activities

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseS3Event decodes arbitrary SQS bodies as S3 event notifications (plain or in an
// SNS envelope). The result is deterministic; a test event is one ignored record and no
// archive; otherwise every record of the event is either an archive or counted as ignored,
// and each archive is an object-created record's non-empty bucket and URL-decoded,
// non-empty key that does not end in "/".
func FuzzParseS3Event(f *testing.F) {
	record := func(event, bucket, key string) string {
		return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2022-09-01T18:48:16.000Z",`+
			`"eventName":%q,"s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},"object":{"key":%q,"size":1234}}}`,
			event, bucket, bucket, key)
	}
	plain := `{"Records":[` + record("ObjectCreated:Put", "archives", "OCJByUtSrVTYtqObYp7XZV_J-mtbSpelling.zip") + `]}`
	envelope, err := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m-1", "Message": plain})
	require.NoError(f, err)
	for _, s := range []string{
		plain, string(envelope),
		`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2022-09-01T18:48:16.000Z","Bucket":"archives"}`,
		`{"Records":[` + record("ObjectRemoved:Delete", "archives", "a.zip") + `,` + record("ObjectCreated:Put", "", "a.zip") + `,` +
			record("ObjectCreated:Put", "archives", "dir/") + `,` + record("ObjectCreated:Put", "archives", "%zz") + `,` +
			record("ObjectCreated:CompleteMultipartUpload", "archives", "a+b%2Fc.zip") + `]}`,
		`{"Records":[]}`, `{}`, `[]`, `{"Type":"Notification","Message":"not json"}`, `{"Records":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		archives, ignored, err := parseS3Event(body)
		again, ignored2, err2 := parseS3Event(body)
		require.Equal(t, err == nil, err2 == nil)
		require.Equal(t, archives, again)
		require.Equal(t, ignored, ignored2)
		if err != nil {
			require.Empty(t, archives)
			return
		}
		var ev s3Event
		require.NoError(t, json.Unmarshal([]byte(body), &ev))
		if ev.Type == "Notification" && ev.Message != "" {
			require.NoError(t, json.Unmarshal([]byte(ev.Message), &ev))
		}
		if ev.Event == "s3:TestEvent" {
			require.Empty(t, archives)
			require.Equal(t, 1, ignored)
			return
		}
		require.Equal(t, len(ev.Records), len(archives)+ignored, "every record is an archive or ignored")
		keys := map[string]int{}
		for _, r := range ev.Records {
			if strings.HasPrefix(r.EventName, "ObjectCreated:") && r.S3.Bucket.Name != "" {
				if k, err := url.QueryUnescape(r.S3.Object.Key); err == nil {
					keys[r.S3.Bucket.Name+"\x00"+k]++
				}
			}
		}
		for _, a := range archives {
			require.NotEmpty(t, a.Bucket)
			require.NotEmpty(t, a.Key)
			require.False(t, strings.HasSuffix(a.Key, "/"), "key %q", a.Key)
			require.Positive(t, keys[a.Bucket+"\x00"+a.Key], "archive %+v is no object-created record's", a)
			keys[a.Bucket+"\x00"+a.Key]--
		}
	})
}
