package watchers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseKeepsDefaultsForWatchersLeftOut(t *testing.T) {
	got, err := Parse("s.json", []byte(`[{"watcher":"nsc-exporter","cron":"*/10 * * * *","paused":true,"note":"NSC maintenance"},
		{"watcher":"filelock-exporter","every":"2m","batchSize":50}]`))
	require.NoError(t, err)
	require.Len(t, got, len(Known()))
	assert.Equal(t, Schedule{Watcher: "lims-exporter", Every: Duration(5 * time.Minute), Note: All[0].Purpose}, got[0])
	assert.Equal(t, Schedule{Watcher: "nsc-exporter", Cron: "*/10 * * * *", Paused: true, Note: "NSC maintenance"}, got[1])
	assert.Equal(t, 2*time.Minute, got[2].Catchup(), "missed scans are caught up over one interval")
	assert.Equal(t, time.Hour, got[1].Catchup())
	assert.Equal(t, "cron */10 * * * *", got[1].Describe())
	assert.Equal(t, "every 2m0s", got[2].Describe())
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse("s.json", []byte(`[{"watcher":"lims-exporter","every":"5m","cron":"* * * * *"},
		{"watcher":"nsc-exporter"},{"watcher":"mystery","every":"1m"},{"watcher":"filelock-exporter","every":"1s"},
		{"watcher":"filelock-exporter","cron":"61 * * * *"}]`))
	require.Error(t, err)
	for _, want := range []string{"entry 0: watcher lims-exporter: give every or cron, not both", "entry 1: watcher nsc-exporter: give every",
		`entry 2: unknown watcher "mystery"`, "entry 3: watcher filelock-exporter: every 1s is below 10s", `entry 4: watcher filelock-exporter: cron "61 * * * *"`} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = Parse("s.json", []byte(`{"watcher":"x"}`))
	assert.ErrorContains(t, err, "not a JSON array")
	_, err = Parse("s.json", []byte(`[{"watcher":"nsc-exporter","every":"5m","everyday":true}]`))
	assert.ErrorContains(t, err, "unknown field")
	_, err = Parse("s.json", []byte(`[{"watcher":"nsc-exporter","every":"5m"},{"watcher":"nsc-exporter","every":"6m"}]`))
	assert.ErrorContains(t, err, "configured twice")
}

func TestScheduleIDAndLookup(t *testing.T) {
	assert.Equal(t, "nsc-exporter-dev", ScheduleID("nsc-exporter", "dev"))
	assert.Equal(t, "nsc-exporter", ScheduleID("nsc-exporter", ""))
	w, err := Lookup("filelock-exporter")
	require.NoError(t, err)
	assert.Equal(t, "FilelockScan", w.Workflow)
	defaults, err := Load("")
	require.NoError(t, err)
	assert.Len(t, defaults, len(Known()))
	for _, d := range defaults {
		if d.Watcher == EllaHealth.Name {
			assert.Equal(t, "give it `to` in the schedules file", d.Missing(), "no default recipients")
			continue
		}
		assert.Empty(t, d.Missing(), d.Watcher)
		require.NoError(t, d.check(), d.Watcher)
	}
	w, err = Lookup("ella-health")
	require.NoError(t, err)
	assert.Equal(t, Watcher{Name: "ella-health", Workflow: "EllaHealth", Side: "ELLA", Every: 5 * time.Minute, Input: InputEllaHealth,
		Needs: "give it `to` in the schedules file", Purpose: EllaHealth.Purpose}, w)
	assert.NotContains(t, All, EllaHealth, "All stays the scans, which need nothing configured")
	assert.Equal(t, append(All[:len(All):len(All)], EllaHealth), Known())
}
