package main

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/watchers"
	"github.com/opsflow/opsflow/workflows"
)

func funcName(f any) string {
	full := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}

// The schedules start workflows by type name: each name must be a scan the worker registers.
func TestWatchersNameTheirScanWorkflows(t *testing.T) {
	scans := []any{workflows.LimsExportScan, workflows.NSCExportScan, workflows.FilelockScan,
		workflows.BridgeNotificationPoll, workflows.BridgeArchiveSweep, workflows.BridgeParquetScan}
	require.Len(t, watchers.All, len(scans))
	for i, w := range watchers.All {
		assert.Equal(t, funcName(scans[i]), w.Workflow, w.Name)
	}
	assert.Equal(t, funcName(workflows.EllaHealth), watchers.EllaHealth.Workflow)
}

func TestScheduleOptionsOfEllaHealthPassTheHealthInput(t *testing.T) {
	cfg := config.DefaultClient()
	cfg.Environment = "prod"
	th := ella.HealthThresholds{MaxConnections: 120}
	opts, err := scheduleOptions(cfg, watchers.Schedule{Watcher: "ella-health", Every: watchers.Duration(2 * time.Minute),
		To: []string{"ella-drift@ous.test"}, TaskQueue: "ella-p22-ella-01", Thresholds: &th, Note: "ELLA"})
	require.NoError(t, err)
	assert.Equal(t, "ella-health-prod", opts.ID)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, opts.Overlap, "a check never runs beside another")
	assert.Equal(t, 2*time.Minute, opts.CatchupWindow)
	assert.Equal(t, []client.ScheduleIntervalSpec{{Every: 2 * time.Minute}}, opts.Spec.Intervals)
	action := opts.Action.(*client.ScheduleWorkflowAction)
	assert.Equal(t, "EllaHealth", action.Workflow)
	assert.Equal(t, "ella-health-prod", action.ID)
	assert.Equal(t, config.DefaultTaskQueue, action.TaskQueue, "the workflow runs on the central worker; its check on the host's queue")
	assert.Equal(t, time.Hour, action.WorkflowExecutionTimeout)
	want := ella.DefaultHealthThresholds
	want.MaxConnections = 120
	assert.Equal(t, []any{ella.HealthInput{Thresholds: want, To: []string{"ella-drift@ous.test"}, TaskQueue: "ella-p22-ella-01"}}, action.Args)

	_, err = scheduleOptions(cfg, watchers.Schedule{Watcher: "ella-health", Every: watchers.Duration(5 * time.Minute)})
	assert.EqualError(t, err, "schedule ella-health-prod: not configured (give it `to` in the schedules file)")
}

func TestHealthSummaryTellsStateChangeAndAlerts(t *testing.T) {
	ok := workflows.EllaHealthResult{Report: ella.HealthReport{Status: ella.HealthOK}}
	assert.Equal(t, "  health ok (previous unknown), transition none, alerts 0, mailed no e-mail\n", healthSummary(ok))
	raised := workflows.EllaHealthResult{Report: ella.HealthReport{Status: ella.HealthAlert,
		Alerts: []string{"page http://127.0.0.1:1/ answers HTTP 503", "supervisord program ella is STOPPED"}},
		Previous: ella.HealthOK, Transition: ella.TransitionRaised, Mailed: "<abc@opsflow>"}
	assert.Equal(t, "  health alert (previous ok), transition raised, alerts 2, mailed <abc@opsflow>\n"+
		"  alert: page http://127.0.0.1:1/ answers HTTP 503\n  alert: supervisord program ella is STOPPED\n", healthSummary(raised))
}

func TestScheduleOptionsSkipOverlapsAndCatchUpOnce(t *testing.T) {
	cfg := config.DefaultClient()
	cfg.Environment = "prod"
	opts, err := scheduleOptions(cfg, watchers.Schedule{Watcher: "nsc-exporter", Every: watchers.Duration(5 * time.Minute),
		Paused: true, Note: "maintenance", BatchSize: 50})
	require.NoError(t, err)
	assert.Equal(t, "nsc-exporter-prod", opts.ID)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, opts.Overlap)
	assert.Equal(t, 5*time.Minute, opts.CatchupWindow, "missed windows within one interval are caught up by one scan")
	assert.True(t, opts.Paused)
	assert.Equal(t, "maintenance", opts.Note)
	assert.Equal(t, []client.ScheduleIntervalSpec{{Every: 5 * time.Minute}}, opts.Spec.Intervals)
	action := opts.Action.(*client.ScheduleWorkflowAction)
	assert.Equal(t, "NSCExportScan", action.Workflow)
	assert.Equal(t, config.DefaultTaskQueue, action.TaskQueue)
	assert.Equal(t, []any{workflows.WatcherScanInput{Environment: "prod", BatchSize: 50}}, action.Args)

	opts, err = scheduleOptions(cfg, watchers.Schedule{Watcher: "filelock-exporter", Cron: "*/3 * * * *"})
	require.NoError(t, err)
	assert.Equal(t, []string{"*/3 * * * *"}, opts.Spec.CronExpressions)
	assert.Equal(t, time.Hour, opts.CatchupWindow)
	_, err = scheduleOptions(cfg, watchers.Schedule{Watcher: "mystery"})
	assert.Error(t, err)
}

func TestSpecTextShowsCalendarsAsCron(t *testing.T) {
	every3 := client.ScheduleCalendarSpec{Minute: []client.ScheduleRange{{End: 59, Step: 3}}, Hour: []client.ScheduleRange{{End: 23, Step: 1}},
		DayOfMonth: []client.ScheduleRange{{Start: 1, End: 31, Step: 1}}, Month: []client.ScheduleRange{{Start: 1, End: 12, Step: 1}},
		DayOfWeek: []client.ScheduleRange{{End: 6, Step: 1}}}
	assert.Equal(t, "cron */3 * * * *", specText(&client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{every3}}))
	yearly := client.ScheduleCalendarSpec{Minute: []client.ScheduleRange{{}}, Hour: []client.ScheduleRange{{}},
		DayOfMonth: []client.ScheduleRange{{Start: 1}}, Month: []client.ScheduleRange{{Start: 1}}, DayOfWeek: []client.ScheduleRange{{End: 6, Step: 1}}}
	assert.Equal(t, "cron 0 0 1 1 *", specText(&client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{yearly}}))
	assert.Equal(t, "every 5m0s", specText(&client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 5 * time.Minute}}}))
}
