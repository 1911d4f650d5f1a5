package bridge_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/bridge/relational"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
)

var requiredMeta = []string{"recordid", "assessmentid", "assessmentrevision", "uploadedon"}

// FuzzParseArchiveMeta reads arbitrary S3 metadata: the four keys the pipeline needs and one
// more key and value. The result is the same however often it is read (whatever the map's
// order); a refusal never shows the other key's value; an accepted record id is safe as an
// object name, the revision not negative, and the record's NDJSON key has no empty, "." or
// ".." segment, lies under its dataset's prefix, and its partition path parses back to the
// same partition (else the Parquet scan, which lists partitions by parsing their paths,
// would never convert the record).
func FuzzParseArchiveMeta(f *testing.F) {
	md := bridgedata.Metadata(bridgedata.Spec{RecordID: bridgedata.RecordID(1)})
	f.Add(md["recordid"], md["assessmentid"], md["assessmentrevision"], md["uploadedon"], "healthcode", md["healthcode"])
	for _, s := range [][6]string{
		{"OCJByUtSrVTYtqObYp7XZV_J", "spelling", "5", "2022-02-15T18:48:15.890Z", "recordid", "OCJByUtSrVTYtqObYp7XZV_J"},
		{"../x", "spelling", "5", "2022-02-15T18:48:15.890Z", "healthcode", "secret-health-code"},
		{"r1", "a/b", "5", "2022-02-15T18:48:15.890Z", "healthcode", "secret-health-code"},
		{"r1", "spelling", "-1", "2022-02-15T18:48:15.890Z", "healthcode", "secret-health-code"},
		{"r1", "spelling", "5", "2022-02-15", "healthcode", "secret-health-code"},
		{"r1", "spelling", "5", "2022-02-15T18:48:15+02:00", "clientinfo", "ClientInfo [appName=MobileToolboxApp]"},
		{"r1", "..", "5", "2022-02-15T18:48:15.890Z", "", ""},
		{"r1", "spelling", "5", "9999-12-31T23:59:59.999Z", "x", "y"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, recordID, assessmentID, revision, uploadedOn, key, value string) {
		md := map[string]string{"recordid": recordID, "assessmentid": assessmentID, "assessmentrevision": revision, "uploadedon": uploadedOn}
		extra := !containsFold(requiredMeta, key)
		md[key] = value
		meta, err := bridge.ParseArchiveMeta(md)
		for range 8 { // maps iterate in a random order
			m2, err2 := bridge.ParseArchiveMeta(md)
			require.Equal(t, err == nil, err2 == nil, "ParseArchiveMeta is not deterministic: %v / %v", err, err2)
			if err == nil {
				require.Equal(t, meta, m2, "ParseArchiveMeta is not deterministic")
			} else {
				require.Equal(t, err.Error(), err2.Error(), "ParseArchiveMeta is not deterministic")
			}
		}
		if err != nil {
			if extra && len(value) >= 4 {
				delete(md, key)
				_, without := bridge.ParseArchiveMeta(md)
				if without != nil && !strings.Contains(without.Error(), value) {
					require.NotContains(t, err.Error(), value, "the refusal shows another key's value")
				}
			}
			return
		}
		require.NoError(t, bridge.CheckRecordID(meta.RecordID))
		require.GreaterOrEqual(t, meta.Revision, 0)
		require.Equal(t, meta.AssessmentID, meta.Partition.AssessmentID)
		for k := range meta.Metadata {
			require.Equal(t, strings.ToLower(k), k, "metadata key %q", k)
		}
		object := bridge.RawJSONKey("fuzz_v1", meta.Partition, meta.RecordID)
		require.True(t, strings.HasPrefix(object, bridge.DatasetPrefix("fuzz_v1")), object)
		for _, seg := range strings.Split(object, "/") {
			require.NotContains(t, []string{"", ".", ".."}, seg, "key %q", object)
		}
		back, err := bridge.ParsePartitionPath(meta.Partition.Path())
		require.NoError(t, err, "partition %q of uploadedon %q does not parse back", meta.Partition.Path(), uploadedOn)
		require.Equal(t, meta.Partition, back)
	})
}

// FuzzInject is stage 1 on an arbitrary file of an archive: decode, inject, write NDJSON. An
// injected document carries the record's partition and id (ArchiveMetadata: the S3
// metadata); each NDJSON line is one JSON object; and stage 2 (the Relationalizer, with the
// record's inherited values) never refuses a line for its injected fields.
func FuzzInject(f *testing.F) {
	a := bridgedata.Good(bridgedata.Spec{RecordID: "fuzzRecord01", Steps: 2, MotionSamples: 2})
	for _, name := range a.Names {
		f.Add(a.Files[name], strings.TrimSuffix(name, ".json")+"_v1")
	}
	for _, s := range []string{`[]`, `[{"a":1},2]`, `"x"`, `{"year":"2021","recordid":"other","assessmentid":null}`, `[{"day":{"x":1}}]`, `{"a":1} x`} {
		f.Add([]byte(s), "taskData_v1")
	}
	f.Add([]byte(`{"files":[]}`), "ArchiveMetadata_v1")
	meta, err := bridge.ParseArchiveMeta(a.Metadata)
	require.NoError(f, err)
	in := relational.InheritedOf(meta.Partition, meta.RecordID)
	f.Fuzz(func(t *testing.T, data []byte, dataset string) {
		if bridge.CheckDataset(dataset) != nil {
			return
		}
		doc, err := bridge.DecodeJSON(data)
		if err != nil {
			return
		}
		docs, err := bridge.Inject("f.json", dataset, doc, meta)
		if err != nil {
			require.Contains(t, err.Error(), "f.json", "the error names the file")
			return
		}
		require.NotNil(t, docs)
		for _, d := range docs {
			if bridge.SchemaIdentifier(dataset) == "ArchiveMetadata" {
				for k, v := range meta.Metadata {
					require.Equal(t, v, d[k], k)
				}
				continue
			}
			require.Equal(t, meta.RecordID, d["recordid"])
			require.Equal(t, meta.AssessmentID, d["assessmentid"])
			require.Equal(t, []any{meta.Partition.Year, meta.Partition.Month, meta.Partition.Day}, []any{d["year"], d["month"], d["day"]})
		}
		var buf bytes.Buffer
		require.NoError(t, bridge.AppendNDJSON(&buf, docs))
		lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
		if len(docs) == 0 {
			require.Zero(t, buf.Len())
			return
		}
		require.Len(t, lines, len(docs))
		r := relational.NewRelationalizer(bridge.TableName(dataset))
		for i, line := range lines {
			var obj map[string]any
			require.NoError(t, json.Unmarshal(line, &obj), "line %d", i)
			if _, err := r.Line(line, i, in); err != nil {
				require.NotContains(t, err.Error(), "differs from its", "stage 2 refuses what stage 1 injected: line %s", line)
			}
		}
	})
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
