package watchers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
)

func TestParseConfiguresEllaHealth(t *testing.T) {
	got, err := Parse("s.json", []byte(`[{"watcher":"ella-health","every":"2m","to":["ella-drift@ous.test"],"taskQueue":"ella-p22-ella-01",
		"thresholds":{"pageMillis":1500,"maxLongQueries":2},"note":"ELLA on p22-ella-01"}]`))
	require.NoError(t, err)
	require.Len(t, got, len(Known()))
	h := got[len(got)-1]
	assert.Equal(t, "ella-health", h.Watcher)
	assert.Empty(t, h.Missing())
	assert.Equal(t, 2*time.Minute, h.Catchup())
	want := ella.DefaultHealthThresholds
	want.PageMillis, want.MaxLongQueries = 1500, 2
	assert.Equal(t, ella.HealthInput{Thresholds: want, To: []string{"ella-drift@ous.test"}, TaskQueue: "ella-p22-ella-01"}, h.HealthInput())
	assert.Equal(t, "ELLA on p22-ella-01", h.Note)

	got, err = Parse("s.json", []byte(`[{"watcher":"ella-health","cron":"*/5 * * * *","to":["a@ous.test","b@ous.test"]}]`))
	require.NoError(t, err)
	h = got[len(got)-1]
	assert.Equal(t, ella.HealthInput{Thresholds: ella.DefaultHealthThresholds, To: []string{"a@ous.test", "b@ous.test"}, TaskQueue: DefaultEllaTaskQueue},
		h.HealthInput(), "no thresholds: the defaults; no taskQueue: the worker's default")
	assert.Equal(t, EllaHealth.Purpose, h.Note)
}

func TestParseRefusesEllaHealthFieldsElsewhereAndScanFieldsOnEllaHealth(t *testing.T) {
	_, err := Parse("s.json", []byte(`[{"watcher":"nsc-exporter","every":"5m","to":["a@ous.test"]},
		{"watcher":"bridge-sweep","every":"1h","thresholds":{}},{"watcher":"lims-exporter","every":"5m","taskQueue":"ella"},
		{"watcher":"ella-health","every":"5m","to":["a@ous.test"],"batchSize":5}]`))
	require.Error(t, err)
	for _, want := range []string{"entry 0: watcher nsc-exporter: to, taskQueue and thresholds are for ella-health only",
		"entry 1: watcher bridge-sweep: to, taskQueue and thresholds are for ella-health only",
		"entry 2: watcher lims-exporter: to, taskQueue and thresholds are for ella-health only",
		"entry 3: watcher ella-health: batchSize and prefix are for the scans"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = Parse("s.json", []byte(`[{"watcher":"ella-health","every":"5m","to":["a@ous.test"],"prefix":"x/"}]`))
	assert.ErrorContains(t, err, "entry 0: watcher ella-health: batchSize and prefix are for the scans")
}

func TestParseValidatesTheHealthInput(t *testing.T) {
	_, err := Parse("s.json", []byte(`[{"watcher":"lims-exporter","every":"5m"},{"watcher":"ella-health","every":"5m"}]`))
	assert.EqualError(t, err, "schedules file s.json: entry 1: watcher ella-health: no recipient for health alerts (to)")
	_, err = Parse("s.json", []byte(`[{"watcher":"ella-health","every":"5m","to":["Ella Drift <d@ous.test>","nobody"],
		"taskQueue":"no spaces","thresholds":{"max5xxPercent":120,"pageMillis":-1}}]`))
	require.Error(t, err)
	for _, want := range []string{"entry 0: watcher ella-health: ", "threshold pageMillis is negative (-1)",
		"threshold max5xxPercent 120 is not within 0..100", `taskQueue "no spaces" is not a host's task queue name`,
		`to: "Ella Drift <d@ous.test>" is not a bare e-mail address`, `to: "nobody" is not a bare e-mail address`} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "\n", "one line per file")
	_, err = Parse("s.json", []byte(`[{"watcher":"ella-health","every":"5m","to":["a@ous.test"],"thresholds":{"pageMilis":100}}]`))
	assert.ErrorContains(t, err, `unknown field "pageMilis"`)
}

func TestTheDemoSchedulesParse(t *testing.T) {
	got, err := Load("../../testdata/schedules-demo.json")
	require.NoError(t, err)
	for _, s := range got {
		assert.Empty(t, s.Missing(), s.Watcher)
	}
	h := got[len(got)-1]
	assert.Equal(t, ella.HealthInput{Thresholds: ella.DefaultHealthThresholds, To: []string{"ella-drift@ous.test"}, TaskQueue: "ella"}, h.HealthInput())
	assert.Equal(t, "every 2m0s", h.Describe())
}
