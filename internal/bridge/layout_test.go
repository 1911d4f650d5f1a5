package bridge

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLayout(t *testing.T) {
	p, err := PartitionOf("dccs", "2022-09-01T17:23:45.123Z")
	require.NoError(t, err)
	assert.Equal(t, Partition{AssessmentID: "dccs", Year: 2022, Month: 9, Day: 1}, p)
	assert.Equal(t, "raw_json/dataset=sharedSchema_v1/assessmentid=dccs/year=2022/month=9/day=1/OCJByUtSrVTYtqObYp7XZV_J.ndjson",
		RawJSONKey("sharedSchema_v1", p, "OCJByUtSrVTYtqObYp7XZV_J"))
	back, err := ParsePartitionPath(p.Path())
	require.NoError(t, err)
	assert.Equal(t, p, back)
	assert.Equal(t, "dataset_sharedschema_v1", TableName("sharedSchema_v1"))
	assert.Equal(t, "dataset_motionrecord_v1_items", ChildTableName(TableName("MotionRecord_v1"), "items"))
	assert.Equal(t, "parquet/dataset_motionrecord_v1/", TablePrefix(TableName("MotionRecord_v1")))
	for _, bad := range []string{"", "..", "a/b", "a=b"} {
		_, err := PartitionOf(bad, "2022-09-01T17:23:45.123Z")
		assert.Error(t, err, bad)
	}
	_, err = PartitionOf("dccs", "yesterday")
	assert.ErrorContains(t, err, "uploadedon")
	_, err = ParsePartitionPath("assessmentid=../year=2022/month=9/day=1/")
	assert.Error(t, err)
	assert.Error(t, CheckDataset("../x"))
	assert.NoError(t, CheckDataset("sharedSchema_v1"))
	assert.Error(t, CheckRecordID("a/b"))
	assert.NoError(t, CheckRecordID("OCJByUtSrVTYtqObYp7XZV_J-mtbSpelling"))
}
