package bridge

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testMeta(t *testing.T) ArchiveMeta {
	t.Helper()
	m, err := ParseArchiveMeta(map[string]string{"RecordId": "OCJByUtSrVTYtqObYp7XZV_J", "assessmentid": "spelling",
		"assessmentrevision": "5", "uploadedon": "2022-02-15T18:48:15.890Z", "healthcode": "8d6L6xdo7u8jlszxR-ZkHW_q"})
	require.NoError(t, err)
	return m
}

func ndjson(t *testing.T, docs []map[string]any) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, AppendNDJSON(&b, docs))
	return b.String()
}

func TestParseArchiveMeta(t *testing.T) {
	m := testMeta(t)
	assert.Equal(t, "OCJByUtSrVTYtqObYp7XZV_J", m.RecordID)
	assert.Equal(t, 5, m.Revision)
	assert.Equal(t, Partition{AssessmentID: "spelling", Year: 2022, Month: 2, Day: 15}, m.Partition)
	assert.Equal(t, "OCJByUtSrVTYtqObYp7XZV_J", m.Metadata["recordid"], "keys lower-cased")

	good := map[string]string{"recordid": "r1", "assessmentid": "spelling", "assessmentrevision": "5", "uploadedon": "2022-02-15T18:48:15.890Z"}
	for k, v := range map[string]string{"recordid": "../r", "assessmentrevision": "five", "uploadedon": "yesterday", "assessmentid": "a/b"} {
		md := map[string]string{}
		for kk, vv := range good {
			md[kk] = vv
		}
		md[k] = v
		_, err := ParseArchiveMeta(md)
		require.Error(t, err, k)
		assert.Contains(t, err.Error(), k)
		delete(md, k)
		_, err = ParseArchiveMeta(md)
		assert.EqualError(t, err, "S3 metadata has no "+k)
	}
}

func TestInjectArchiveMetadataGetsEveryS3MetadataKey(t *testing.T) {
	docs, err := Inject("metadata.json", "ArchiveMetadata_v1", decode(t, []byte(`{"appName":"MobileToolboxApp","recordid":"mine","files":[]}`)), testMeta(t))
	require.NoError(t, err)
	assert.Equal(t, `{"appName":"MobileToolboxApp","assessmentid":"spelling","assessmentrevision":"5","day":15,"files":[],"healthcode":"8d6L6xdo7u8jlszxR-ZkHW_q","month":2,"recordid":"OCJByUtSrVTYtqObYp7XZV_J","uploadedon":"2022-02-15T18:48:15.890Z","year":2022}`+"\n",
		ndjson(t, docs))
	_, err = Inject("metadata.json", "ArchiveMetadata_v1", decode(t, []byte(`[{}]`)), testMeta(t))
	assert.EqualError(t, err, "metadata.json is a JSON list; dataset ArchiveMetadata_v1 needs an object")
}

func TestInjectOtherDatasetsGetThePartitionAndRecord(t *testing.T) {
	docs, err := Inject("weather.json", "WeatherResult_v1", decode(t, []byte(`{"temperature":21.50,"big":12345678901234567890,"html":"<a&b>","wind":{"gust":null}}`)), testMeta(t))
	require.NoError(t, err)
	assert.Equal(t, `{"assessmentid":"spelling","big":12345678901234567890,"day":15,"html":"<a&b>","month":2,"recordid":"OCJByUtSrVTYtqObYp7XZV_J","temperature":21.50,"wind":{"gust":null},"year":2022}`+"\n",
		ndjson(t, docs), "numbers exactly as written, no HTML escaping")

	docs, err = Inject("motion.json", "MotionRecord_v1", decode(t, []byte(`[{"x":1},{"x":2,"recordid":"spoofed"}]`)), testMeta(t))
	require.NoError(t, err)
	const tail = `"assessmentid":"spelling","day":15,"month":2,"recordid":"OCJByUtSrVTYtqObYp7XZV_J",`
	assert.Equal(t, `{`+tail+`"x":1,"year":2022}`+"\n"+`{`+tail+`"x":2,"year":2022}`+"\n", ndjson(t, docs), "one line per element")

	docs, err = Inject("motion.json", "MotionRecord_v1", decode(t, []byte(`[]`)), testMeta(t))
	require.NoError(t, err)
	assert.Empty(t, docs)

	for body, want := range map[string]string{
		`[{"x":1},3]`: "motion.json element 1 is a JSON number; a list must hold objects",
		`"text"`:      "motion.json is a JSON string; it must be an object or a list of objects",
		`null`:        "motion.json is a JSON null; it must be an object or a list of objects",
	} {
		_, err := Inject("motion.json", "MotionRecord_v1", decode(t, []byte(body)), testMeta(t))
		assert.EqualError(t, err, want)
	}
}

func TestDecodeJSONRefusesTrailingData(t *testing.T) {
	_, err := DecodeJSON([]byte(`{"a":1} {"b":2}`))
	assert.Error(t, err)
	_, err = DecodeJSON([]byte(`{"a":`))
	assert.Error(t, err)
}

func TestInvalidMessageHasTheOriginalsShape(t *testing.T) {
	v := NewValidationResult("mobile-toolbox", testMeta(t))
	assert.False(t, v.Invalid())
	v.Add("taskData.json", "https://x/taskData.json", nil)
	assert.False(t, v.Invalid(), "no errors, nothing recorded")
	var many []string
	for i := range 12 {
		many = append(many, fmt.Sprintf("error %02d", i))
	}
	v.Add("weather.json", "https://x/WeatherResult.json", many)
	v.Add("motion.json", "https://x/MotionRecord.json", []string{"at '/0': missing property 'stepPath'"})
	require.True(t, v.Invalid())
	body, err := InvalidMessage{SourceBucket: "bridge-archives", SourceKey: "a/b.zip", ValidationResult: v}.Body()
	require.NoError(t, err)
	assert.JSONEq(t, `{"source_bucket":"bridge-archives","source_key":"a/b.zip","validation_result":{
		"assessmentId":"spelling","assessmentRevision":5,"appId":"mobile-toolbox","recordId":"OCJByUtSrVTYtqObYp7XZV_J",
		"schema_url":"https://x/MotionRecord.json",
		"errors":{"motion.json":["at '/0': missing property 'stepPath'"],
		"weather.json":["`+strings.Join(many[:10], `","`)+`"]}}}`, body)
}

func TestRecordMarkerKey(t *testing.T) {
	assert.Equal(t, "raw_json/_records/OCJByUtSrVTYtqObYp7XZV_J.json", RecordMarkerKey("OCJByUtSrVTYtqObYp7XZV_J"))
	assert.False(t, strings.HasPrefix(RecordMarkerKey("r"), DatasetPrefix("")), "outside every dataset prefix")
}
