package reval

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMasterDoctorIndexName(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	assert.Equal(t, "masterdoctorindex-20260304050607", MasterDoctorIndexName(ts))
	acts := AddAliases("x")
	require.Len(t, acts, 4)
	for i, a := range acts {
		assert.True(t, a.Add)
		assert.Equal(t, "x", a.Index)
		assert.Equal(t, AliasNames[i], a.Alias)
	}
	assert.Equal(t, CurrentConnectionsFilter(), acts[1].Filter)
	assert.Equal(t, DiscrepanciesFilter(), acts[2].Filter)
}
