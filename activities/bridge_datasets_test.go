package activities

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/bridge"
)

func TestListBridgeDatasetsPagesEachDatasetOnce(t *testing.T) {
	a, env := newBridgeParquet(t)
	p := bridge.Partition{AssessmentID: "dccs", Year: 2022, Month: 9, Day: 1}
	for _, ds := range []string{"sharedSchema_v1", "MotionRecord_v1", "WeatherResult_v1"} {
		putRecord(t, a, ds, p, "rec1", nestedLine("rec1", p))
		putRecord(t, a, ds, p, "rec2", nestedLine("rec2", p))
	}
	var got []string
	page := ScanPage{Limit: 1}
	for i := 0; i < 10; i++ {
		v, err := env.ExecuteActivity(a.ListBridgeDatasets, page)
		require.NoError(t, err)
		var res BridgeDatasetsPage
		require.NoError(t, v.Get(&res))
		got = append(got, res.Datasets...)
		if res.NextCursor == "" {
			break
		}
		page.Cursor = res.NextCursor
	}
	assert.Equal(t, []string{"MotionRecord_v1", "WeatherResult_v1", "sharedSchema_v1"}, got)
	_, err := env.ExecuteActivity(a.ListBridgeDatasets, ScanPage{})
	assertAppErr(t, err, ErrInvalidInput, "page limit 0")
}
