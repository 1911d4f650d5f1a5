package histories

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
)

// These tests need no server: they check the recorder's naming, its refusal to overwrite and
// that its JSON is what client.HistoryFromJSON reads (recording itself is
// `make record-histories`).

func TestScenariosCoverEveryWorkflowTypeWithUniqueFiles(t *testing.T) {
	files := map[string]bool{}
	workflows := map[string]bool{}
	for _, s := range Scenarios() {
		require.NotEmpty(t, s.Outputs, s.Name)
		for _, o := range s.Outputs {
			f := o.File("v1")
			assert.False(t, files[f], "two scenarios write %s", f)
			files[f] = true
			workflows[o.Workflow] = true
		}
	}
	assert.Equal(t, map[string]bool{"release_deploy": true, "site_lock": true, "package_import": true,
		"revalidation_sync": true, "revalidation_rollback": true, "lims_export_scan": true, "lims_package_export": true,
		"nsc_export_scan": true, "package_upload": true, "filelock_scan": true, "bridge_archive_to_json": true,
		"bridge_notification_poll": true, "bridge_archive_sweep": true, "bridge_json_to_parquet": true, "bridge_parquet_scan": true,
		"ella_deploy": true, "ella_health": true, "ella_failover": true}, workflows)
	assert.Len(t, Workflows, len(workflows))
}

func TestPlanRefusesToOverwriteAndBadLabels(t *testing.T) {
	dir := t.TempDir()
	scenarios := Scenarios()
	_, files, err := Plan(Options{Dir: dir, Label: "v7", Only: []string{"revalidation_sync"}}, scenarios)
	require.NoError(t, err)
	assert.Contains(t, files, filepath.Join(dir, "revalidation_sync_v7_aborted.json"))
	for _, f := range files {
		assert.Contains(t, filepath.Base(f), "revalidation_sync_v7_")
	}

	existing := filepath.Join(dir, "revalidation_sync_v7_failed.json")
	require.NoError(t, os.WriteFile(existing, []byte("{}"), 0o644))
	_, _, err = Plan(Options{Dir: dir, Label: "v7", Only: []string{"revalidation_sync"}}, scenarios)
	assert.ErrorContains(t, err, "not overwriting")
	assert.ErrorContains(t, err, existing)
	_, _, err = Plan(Options{Dir: dir, Label: "v7", Only: []string{"revalidation_sync"}, Force: true}, scenarios)
	assert.NoError(t, err, "-force replaces files of its own label")
	_, _, err = Plan(Options{Dir: dir, Label: "v7", Only: []string{"package_import"}}, scenarios)
	assert.NoError(t, err, "other scenarios of the label are not concerned")
	assert.Error(t, writeFile(existing, []byte("new"), false), "writeFile refuses too")
	data, _ := os.ReadFile(existing)
	assert.Equal(t, "{}", string(data))

	for _, label := range []string{"", "V1", "v1/../x", "-v1", "v 1"} {
		_, _, err = Plan(Options{Dir: dir, Label: label}, scenarios)
		assert.ErrorContains(t, err, "label", label)
	}
	_, _, err = Plan(Options{Dir: dir, Label: "v7", Only: []string{"no_such"}}, scenarios)
	assert.ErrorContains(t, err, "no such scenario")
	_, _, err = Plan(Options{Dir: filepath.Join(dir, "missing"), Label: "v7"}, scenarios)
	assert.ErrorContains(t, err, "not found")
}

func TestMarshalHistoryReadsBackAndReplays(t *testing.T) {
	files, err := filepath.Glob("../../../testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		f, err := os.Open(file)
		require.NoError(t, err)
		hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		f.Close()
		require.NoError(t, err, file)
		data, err := MarshalHistory(hist)
		require.NoError(t, err)
		back, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
		require.NoError(t, err)
		assert.True(t, proto.Equal(hist, back), file)
		assert.Contains(t, string(data), `"eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"`, "the CLI's enum names")
		assert.NoError(t, Replay(back), file)
	}
}
