//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
	"github.com/opsflow/opsflow/workflows"
)

// TestReleaseDeployEndToEnd walks the seed procedure three times on a real stack: a first
// release to every site (Temporal CLI), a release that changes only NSC (starter --wait),
// and a broken release whose service crashes, which must roll NSC back.
func TestReleaseDeployEndToEnd(t *testing.T) {
	d := newDeployment(t)
	d.startWorker()
	sup := d.sup.Client(t)

	// 1. First release, started with the plain Temporal CLI as README documents.
	id1 := "release-v1.0.0-rel-" + d.taskQueue
	d.temporalCLI("workflow", "start", "--type", "ReleaseDeploy", "--task-queue", d.taskQueue,
		"--workflow-id", id1, "--input", `{"version":"v1.0.0-rel"}`)
	var res1 workflows.ReleaseDeployResult
	require.NoError(t, d.client.GetWorkflow(waitCtx(t, 3*time.Minute), id1, "").Get(waitCtx(t, 3*time.Minute), &res1))
	require.Len(t, res1.Sites, 2)
	for _, s := range res1.Sites {
		assert.True(t, s.Deployed, "site %s deployed", s.Site)
		assert.Equal(t, "v1.0.0-rel", s.Current)
	}
	assert.Equal(t, d.repo.Git(t, "rev-parse", "v1.0.0-rel^{commit}"), res1.Commit, "tag pushed to origin at master's head")
	assert.Contains(t, d.repo.Git(t, "ls-remote", "--tags", "origin"), "refs/tags/v1.0.0-rel")
	for site, svcs := range services {
		assertRuns(t, d, site, "v1.0.0-rel")
		archived := filepath.Join(d.siteDir(site), "sw", "archive", "tsd-import-v1.0.0-rel.tar.gz")
		sum, _, err := checksum.SHA256File(archived)
		require.NoError(t, err)
		assert.Equal(t, res1.Artifact.SHA256, sum, "archived copy on %s matches the artifact", site)
		for _, svc := range svcs {
			info, err := sup.ProcessInfo(waitCtx(t, 10*time.Second), svc)
			require.NoError(t, err)
			assert.Equal(t, "RUNNING", info.StateName, svc)
		}
	}
	tsdPID := pid(t, d, "filelock-exporter-api")
	screenshotRun(t, d, id1)

	// 2. Only NSC's component changed: TSD is not touched (same PID), NSC runs v1.1.0-rel.
	d.repo.Commit(t, "nsc-exporter: retry uploads", map[string]string{"nsc-exporter/exporter.py": "# v1.1: retry uploads\n"})
	id2 := "release-v1.1.0-rel-" + d.taskQueue
	out, err := d.starter("release", "--version", "v1.1.0-rel", "--workflow-id", id2, "--wait")
	require.NoError(t, err, out)
	assert.Contains(t, out, "workflow id: "+id2)
	assert.Contains(t, out, "status: COMPLETED")
	var res2 workflows.ReleaseDeployResult
	require.NoError(t, d.client.GetWorkflow(waitCtx(t, time.Minute), id2, "").Get(waitCtx(t, time.Minute), &res2))
	require.Len(t, res2.Sites, 2)
	assert.True(t, res2.Sites[0].Deployed)
	assert.Equal(t, []string{"nsc-exporter/"}, res2.Sites[0].Changed)
	assert.False(t, res2.Sites[1].Deployed)
	assert.Equal(t, "no component changed since v1.0.0-rel", res2.Sites[1].Reason)
	assertRuns(t, d, "nsc", "v1.1.0-rel")
	assertRuns(t, d, "tsd", "v1.0.0-rel")
	assert.Equal(t, tsdPID, pid(t, d, "filelock-exporter-api"), "TSD service was not restarted")
	assert.DirExists(t, filepath.Join(d.siteDir("nsc"), "sw", "releases", "tsd-import-v1.0.0-rel"), "previous version kept for rollback")

	// 3. A broken release: nsc-exporter crashes on start. NSC must be rolled back to v1.1.0-rel
	// with both services running again, and the run must fail saying so.
	d.repo.Commit(t, "nsc-exporter: broken", map[string]string{"bin/nsc-exporter": "#!/bin/sh\necho 'nsc-exporter: cannot read config' >&2\nexit 3\n"})
	id3 := "release-v1.2.0-rel-" + d.taskQueue
	d.temporalCLI("workflow", "start", "--type", "ReleaseDeploy", "--task-queue", d.taskQueue,
		"--workflow-id", id3, "--input", `{"version":"v1.2.0-rel"}`)
	err = d.client.GetWorkflow(waitCtx(t, 3*time.Minute), id3, "").Get(waitCtx(t, 3*time.Minute), nil)
	require.Error(t, err)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "application error, got %v", err)
	assert.Equal(t, workflows.ErrSiteRolledBack, app.Type())
	assert.Contains(t, app.Error(), "nsc-exporter")
	assertRuns(t, d, "nsc", "v1.1.0-rel")
	for _, svc := range services["nsc"] {
		info, err := sup.ProcessInfo(waitCtx(t, 10*time.Second), svc)
		require.NoError(t, err)
		assert.Equal(t, "RUNNING", info.StateName, "%s runs again after the rollback", svc)
	}

	// 4. A dry run of the next version changes nothing: no tag, no artifact, no file, no restart.
	d.repo.Commit(t, "filelock-exporter: change", map[string]string{"filelock-exporter/exporter.py": "# v1.3\n"})
	sitesBefore := listTree(t, filepath.Join(d.dir, "sites"))
	pidsBefore := map[string]int{}
	for _, svcs := range services {
		for _, svc := range svcs {
			pidsBefore[svc] = pid(t, d, svc)
		}
	}
	out, err = d.starter("release", "--version", "v1.3.0-rel", "--dry-run", "--wait", "--workflow-id", "dry-"+d.taskQueue)
	require.NoError(t, err, out)
	assert.Contains(t, out, `"dryRun": true`)
	assert.Contains(t, out, "stop filelock-exporter-api (now RUNNING)")
	assert.NotContains(t, d.repo.Git(t, "ls-remote", "--tags", "origin"), "v1.3.0-rel", "no tag pushed")
	assert.Equal(t, sitesBefore, listTree(t, filepath.Join(d.dir, "sites")), "site directories untouched")
	for svc, p := range pidsBefore {
		assert.Equal(t, p, pid(t, d, svc), "%s not restarted", svc)
	}
	assertNoObject(t, d, "tsd-import/v1.3.0-rel/tsd-import-v1.3.0-rel.tar.gz")

	// The runs are findable by version and outcome (Keyword search attributes).
	assertListed(t, d, fmt.Sprintf(`OpsflowVersion = "v1.2.0-rel" AND OpsflowOutcome = "rolled-back" AND WorkflowId = %q`, id3), id3)
	assertListed(t, d, fmt.Sprintf(`OpsflowProcedure = "ReleaseDeploy" AND OpsflowOutcome = "succeeded" AND WorkflowId = %q`, id1), id1)
	assertListed(t, d, fmt.Sprintf(`OpsflowEnvironment = %q AND OpsflowSite = "tsd" AND WorkflowId = %q`, d.environment, id1), id1)

	// `opsflow find` answers the operator's questions; a sample name is hashed before it
	// leaves the process.
	out, err = d.starter("find", "--procedure", "ReleaseDeploy", "--env", d.environment, "--outcome", "rolled-back")
	require.NoError(t, err, out)
	assert.Contains(t, out, id3)
	assert.Contains(t, out, "1 run(s)")
	out, err = d.starter("find", "--sample", "Diag-wgs99-NA12878", "--print-query")
	require.NoError(t, err, out)
	assert.Regexp(t, `^OpsflowPackage = "h-[0-9a-f]{16}"\s*$`, out)
	assert.NotContains(t, out, "NA12878")

	// The worker's metrics endpoint counted the runs and their activities.
	metrics := httpGet(t, "http://"+d.metricsAddr+"/metrics")
	assert.Regexp(t, `opsflow_temporal_workflow_completed\{[^}]*workflow_type="ReleaseDeploy"[^}]*\} [1-9]`, metrics)
	assert.Regexp(t, `opsflow_temporal_workflow_failed\{[^}]*workflow_type="ReleaseDeploy"[^}]*\} [1-9]`, metrics)
	assert.Regexp(t, `opsflow_temporal_activity_execution_latency_count\{[^}]*activity_type="ExtractRelease"[^}]*\} [1-9]`, metrics)
}

// assertRuns checks the site's package symlink points at version and its VERSION says so.
func assertRuns(t *testing.T, d *deployment, site, version string) {
	t.Helper()
	link := filepath.Join(d.siteDir(site), "sw", "tsd-import")
	target, err := os.Readlink(link)
	require.NoError(t, err, "%s is a symlink", link)
	assert.Equal(t, filepath.Join("releases", "tsd-import-"+version), target, "site %s", site)
	v, err := os.ReadFile(filepath.Join(link, "VERSION"))
	require.NoError(t, err)
	assert.Equal(t, version, strings.TrimSpace(string(v)), "site %s VERSION", site)
}

func pid(t *testing.T, d *deployment, svc string) int {
	info, err := d.sup.Client(t).ProcessInfo(waitCtx(t, 10*time.Second), svc)
	require.NoError(t, err)
	require.NotZero(t, info.PID)
	return info.PID
}

// assertListed waits for visibility (eventually consistent) to return the run for query.
func assertListed(t *testing.T, d *deployment, query, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := d.client.ListWorkflow(waitCtx(t, 10*time.Second), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == id
	}, 20*time.Second, 250*time.Millisecond, "query %s finds %s", query, id)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".log") { // services' own output may grow
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprintf("%s %d", rel, info.Size()))
		return nil
	}))
	return out
}

func assertNoObject(t *testing.T, d *deployment, key string) {
	t.Helper()
	cfg := s3test.Config()
	c, err := s3store.New(context.Background(), cfg)
	require.NoError(t, err)
	_, found, err := s3store.Head(context.Background(), c, d.bucket, key)
	require.NoError(t, err)
	assert.False(t, found, "s3://%s/%s must not exist", d.bucket, key)
}

// screenshotRun photographs the run's page in the real Web UI with headless Chromium
// (scripts/screenshot), into $OPSFLOW_SCREENSHOT_DIR (default: a temp dir), and checks a
// real picture came out. The Web UI decodes the encrypted payloads through the codec server.
func screenshotRun(t *testing.T, d *deployment, id string) {
	t.Helper()
	desc, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), id, "")
	require.NoError(t, err)
	runID := desc.WorkflowExecutionInfo.Execution.RunId
	dir := os.Getenv("OPSFLOW_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	out := filepath.Join(dir, "release-deploy-run.png")
	url := fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", d.stack.uiURL, d.stack.namespace, id, runID)
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "screenshot"), url, out)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "scripts/screenshot: %s", b)
	png, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Greater(t, len(png), 10_000, "a rendered page, not a blank one")
	assert.Equal(t, "\x89PNG", string(png[:4]))
	t.Logf("Web UI screenshot of %s: %s", id, out)
}
