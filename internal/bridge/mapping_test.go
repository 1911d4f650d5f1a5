package bridge

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
)

func testMapping(t *testing.T) *Mapping {
	t.Helper()
	m, err := LoadMapping(bridgedata.MappingFile())
	require.NoError(t, err)
	return m
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	v, err := DecodeJSON(b)
	require.NoError(t, err)
	return v
}

// archiveRecord is what the activity derives from an archive: the record and its self-refs.
func archiveRecord(t *testing.T, a bridgedata.Archive) Record {
	t.Helper()
	return Record{AssessmentID: a.Spec.AssessmentID, Revision: a.Spec.Revision, SelfRefs: SelfRefs(decode(t, a.Files["metadata.json"]))}
}

func TestTheTestdataMappingChoosesEachFileOfARealisticArchive(t *testing.T) {
	m := testMapping(t)
	assert.Equal(t, "mobile-toolbox", m.AppID)
	a := bridgedata.Good(bridgedata.Spec{RecordID: bridgedata.RecordID(1)})
	rec := archiveRecord(t, a)
	want := map[string]struct{ dataset, schema string }{
		"info.json":       {"", ""},
		"metadata.json":   {"ArchiveMetadata_v1", bridgedata.ArchiveMetadataSchema},
		"taskData.json":   {"sharedSchema_v1", bridgedata.TaskDataSchema},
		"taskResult.json": {"TaskResult_v1", ""},
		"motion.json":     {"MotionRecord_v1", bridgedata.MotionSchema},
		"microphone.json": {"AudioLevelRecord_v1", "https://sage-bionetworks.github.io/mobile-client-json/schemas/v2/AudioLevelRecord.json"},
		"weather.json":    {"WeatherResult_v1", bridgedata.WeatherSchema},
	}
	require.Len(t, a.Names, len(want))
	for _, name := range a.Names {
		c := m.Choose(rec, name)
		assert.Equal(t, want[name].dataset, c.Dataset, name)
		assert.Equal(t, want[name].schema, c.SchemaRef, name)
		assert.Equal(t, want[name].schema != "", c.Schema != nil, "%s: schema configured", name)
		assert.Empty(t, c.Validate(decode(t, a.Files[name])), "%s validates", name)
	}
}

func TestChooseOrder(t *testing.T) {
	m := testMapping(t)
	rec := func(assessment string, rev int, self map[string]string) Record {
		return Record{AssessmentID: assessment, Revision: rev, SelfRefs: self}
	}
	// The archive's own reference wins over the assessment's schema.
	c := m.Choose(rec("spelling", 5, map[string]string{"taskData.json": bridgedata.MotionSchema}), "taskData.json")
	assert.Equal(t, "MotionRecord_v1", c.Dataset)
	// Without it, the assessment's schema of the greatest revision <= the record's.
	c = m.Choose(rec("spelling", 9, nil), "taskData.json")
	assert.Equal(t, bridgedata.TaskDataSchema, c.SchemaRef)
	assert.Equal(t, "sharedSchema_v1", c.Dataset)
	c = m.Choose(rec("spelling", 4, nil), "taskData.json")
	assert.Empty(t, c.SchemaRef, "revision 5's schema does not apply to revision 4")
	assert.Empty(t, c.Dataset)
	// Dataset mapping: greatest revision <= the record's, then the file name.
	assert.Equal(t, "TaskResult_v1", m.Choose(rec("spelling", 4, nil), "taskResult.json").Dataset)
	assert.Empty(t, m.Choose(rec("spelling", 0, nil), "taskResult.json").Dataset, "no revision <= 0")
	assert.Empty(t, m.Choose(rec("unknownassessment", 5, nil), "taskResult.json").Dataset)
	// A reference the schema mapping does not know falls back to the dataset mapping.
	c = m.Choose(rec("dccs", 5, map[string]string{"taskData.json": "https://example.org/schemas/Unknown.json"}), "taskData.json")
	assert.Equal(t, "sharedSchema_v1", c.Dataset)
	assert.Equal(t, "https://example.org/schemas/Unknown.json", c.SchemaRef)
	assert.Nil(t, c.Schema, "no schema configured: not validated")
	assert.Equal(t, "ArchiveMetadata_v1", m.Choose(rec("dccs", 5, nil), "metadata.json").Dataset,
		"metadata.json's file schema maps it before the dataset mapping (TaskMetadata_v1)")
	// Names are base names; microphone.json is looked up as microphone_levels.json.
	assert.Equal(t, "MotionRecord_v1", m.Choose(rec("x", 1, nil), "sub/dir/motion.json").Dataset)
	assert.Equal(t, "AudioLevelRecord_v1", m.Choose(rec("x", 1, nil), "microphone.json").Dataset)
	assert.Equal(t, "AudioLevelRecord_v1", m.Choose(rec("x", 1, nil), "microphone_levels.json").Dataset)
}

func TestValidateReportsEachViolationWithItsLocation(t *testing.T) {
	m := testMapping(t)
	a := bridgedata.FailsSchema(bridgedata.Spec{RecordID: bridgedata.RecordID(2)})
	c := m.Choose(archiveRecord(t, a), "weather.json")
	assert.Equal(t, []string{
		"at '': missing property 'identifier'",
		"at '/weather/temperature': got string, want number",
	}, c.Validate(decode(t, a.Files["weather.json"])))
}

func TestParseMappingRefusesBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s.json"), []byte(`{"type":"object"}`), 0o600))
	for name, tc := range map[string]struct{ body, want string }{
		"unknown field":     {`{"appId":"a","schemaMaping":{}}`, `unknown field "schemaMaping"`},
		"no app":            {`{}`, "appId is empty"},
		"bad dataset":       {`{"appId":"a","schemaMapping":{"u":"../x"}}`, `schemaMapping["u"]: dataset id "../x"`},
		"bad revision":      {`{"appId":"a","datasetMapping":{"dccs":{"v5":{"a.json":"D_v1"}}}}`, `datasetMapping["dccs"]: revision "v5"`},
		"bad mapped id":     {`{"appId":"a","datasetMapping":{"dccs":{"5":{"a.json":"a b"}}}}`, `datasetMapping["dccs"]["5"]["a.json"]`},
		"missing file":      {`{"appId":"a","schemas":{"https://x/s.json":"absent.json"}}`, `schemas["https://x/s.json"]`},
		"not a schema":      {`{"appId":"a","schemas":{"https://x/s.json":{"type":12}}}`, `schemas["https://x/s.json"]`},
		"unresolvable $ref": {`{"appId":"a","schemas":{"https://x/s.json":{"$ref":"https://elsewhere/t.json"}}}`, "nothing is fetched"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseMapping([]byte(tc.body), dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	m, err := ParseMapping([]byte(`{"appId":"a","schemas":{"https://x/s.json":"s.json","schemas/v0/T.json":{"$id":"schemas/v0/T.json","$ref":"https://x/s.json"}}}`), dir)
	require.NoError(t, err, "schemas $ref each other; a relative $id (the original's schemas/v0/) works")
	assert.Equal(t, []string{"https://x/s.json", "schemas/v0/T.json"}, m.SchemaRefs())
}
