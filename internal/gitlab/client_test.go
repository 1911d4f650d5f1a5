package gitlab

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tag          = "v1.4.0-rel"
	token        = "glpat-test-token"
	projectPath  = "/api/v4/projects/opsflow%2Ftsd-import"
	pipelinesQ   = projectPath + "/pipelines?order_by=id&ref=v1.4.0-rel&sort=desc"
	jobsQ        = projectPath + "/pipelines/1201/jobs?include_retried=false&page=1&per_page=100"
	jobPath      = projectPath + "/jobs/5003"
	playPath     = jobPath + "/play"
	artifactFile = "dist/tsd-import-v1.4.0-rel.tar.gz"
	artifactPath = jobPath + "/artifacts/" + artifactFile
)

func newClient(rp *replay) *Client {
	return &Client{BaseURL: rp.srv.URL + "/", Token: token, Project: "opsflow/tsd-import", PollInterval: 2 * time.Millisecond}
}

// releaseTarGz is a small release artifact: a directory with a VERSION file.
func releaseTarGz(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	content := []byte(tag + "\n")
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "tsd-import-" + tag + "/VERSION", Mode: 0o644, Size: int64(len(content))}))
	_, err := tw.Write(content)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

// statuses records the job states a progress callback saw.
type statuses []string

func (s *statuses) record(j Job) { *s = append(*s, j.Status) }

func TestFetchReleaseArtifactPlaysManualJob(t *testing.T) {
	rp := newReplay(t)
	artifact := releaseTarGz(t)
	rp.on("GET", pipelinesQ, ok("pipelines_tag.json"))
	rp.on("GET", jobsQ, ok("jobs_manual.json"))
	rp.on("POST", playPath, ok("job_played.json"))
	rp.on("GET", jobPath, ok("job_running.json"), ok("job_running.json"), ok("job_success.json"))
	rp.on("GET", artifactPath, raw(artifact))

	var out bytes.Buffer
	var seen statuses
	job, n, err := newClient(rp).FetchReleaseArtifact(context.Background(), tag, "release-artifact", artifactFile, &out, seen.record)
	require.NoError(t, err)

	assert.Equal(t, artifact, out.Bytes())
	assert.Equal(t, int64(len(artifact)), n)
	assert.Equal(t, 5003, job.ID)
	assert.Equal(t, StatusSuccess, job.Status)
	assert.Equal(t, 1201, job.Pipeline.ID)
	assert.Equal(t, []string{"pending", "running", "running", "success"}, []string(seen))
	assert.Equal(t, 1, rp.count("POST", playPath), "a manual job is played once")
	for _, r := range rp.seen() {
		assert.Equal(t, token, r.Token, "%s %s", r.Method, r.EscapedPath)
	}
}

func TestFetchReleaseArtifactDoesNotReplayFinishedJob(t *testing.T) {
	rp := newReplay(t)
	artifact := releaseTarGz(t)
	rp.on("GET", pipelinesQ, ok("pipelines_tag.json"))
	rp.on("GET", jobsQ, ok("jobs_done.json"))
	rp.on("GET", jobPath, ok("job_success.json"))
	rp.on("GET", artifactPath, raw(artifact))

	var out bytes.Buffer
	_, _, err := newClient(rp).FetchReleaseArtifact(context.Background(), tag, "release-artifact", artifactFile, &out, nil)
	require.NoError(t, err)
	assert.Equal(t, artifact, out.Bytes())
	assert.Zero(t, rp.count("POST", playPath))
}

func TestFetchReleaseArtifactFailedJob(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", pipelinesQ, ok("pipelines_tag.json"))
	rp.on("GET", jobsQ, ok("jobs_manual.json"))
	rp.on("POST", playPath, ok("job_played.json"))
	rp.on("GET", jobPath, ok("job_running.json"), ok("job_failed.json"))

	var out bytes.Buffer
	_, _, err := newClient(rp).FetchReleaseArtifact(context.Background(), tag, "release-artifact", artifactFile, &out, nil)
	var failed *JobFailedError
	require.ErrorAs(t, err, &failed)
	assert.Equal(t, StatusFailed, failed.Job.Status)
	assert.Equal(t, "https://gitlab.example.org/opsflow/tsd-import/-/jobs/5003", failed.Job.WebURL)
	assert.Contains(t, err.Error(), failed.Job.WebURL)
	assert.True(t, IsNotRetryable(err))
	assert.Zero(t, rp.count("GET", artifactPath), "nothing is downloaded from a failed job")
	assert.Zero(t, out.Len())
}

func TestFindTagPipelineNone(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", pipelinesQ, ok("pipelines_empty.json"))

	_, err := newClient(rp).FindTagPipeline(context.Background(), tag)
	require.ErrorIs(t, err, ErrNoPipeline)
	assert.EqualError(t, err, "gitlab: no pipeline for tag v1.4.0-rel in project opsflow/tsd-import")
	assert.True(t, IsNotRetryable(err))
}

func TestFindTagPipelineNewest(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", pipelinesQ, ok("pipelines_tag.json"))

	p, err := newClient(rp).FindTagPipeline(context.Background(), tag)
	require.NoError(t, err)
	assert.Equal(t, Pipeline{ID: 1201, Ref: tag, Status: "manual", SHA: "b83d6e391c22777fca1ed3012fce84f633d7fed0",
		WebURL: "https://gitlab.example.org/opsflow/tsd-import/-/pipelines/1201"}, p)
}

func TestFindJobUnknown(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", jobsQ, ok("jobs_manual.json"))

	_, err := newClient(rp).FindJob(context.Background(), 1201, "deploy-prod")
	require.ErrorIs(t, err, ErrUnknownJob)
	assert.Contains(t, err.Error(), `"deploy-prod" in pipeline 1201 of project opsflow/tsd-import`)
	assert.Contains(t, err.Error(), "release-artifact, test, build")
	assert.True(t, IsNotRetryable(err))
}

func TestFindJobFollowsNextPage(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", jobsQ, ok("jobs_page1.json").with("X-Next-Page", "2"))
	rp.on("GET", projectPath+"/pipelines/1201/jobs?include_retried=false&page=2&per_page=100", ok("jobs_page2.json").with("X-Next-Page", ""))

	job, err := newClient(rp).FindJob(context.Background(), 1201, "release-artifact")
	require.NoError(t, err)
	assert.Equal(t, 5003, job.ID)
	assert.Equal(t, StatusManual, job.Status)
	assert.Equal(t, "release", job.Stage)
	assert.Len(t, rp.seen(), 2)
}

func TestFindJobRejectsBackwardNextPage(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", jobsQ, ok("jobs_page1.json").with("X-Next-Page", "1"))

	_, err := newClient(rp).FindJob(context.Background(), 1201, "release-artifact")
	assert.ErrorContains(t, err, `invalid X-Next-Page "1" after page 1`)
	assert.ErrorContains(t, err, "pipeline 1201 of project opsflow/tsd-import")
	assert.Len(t, rp.seen(), 1, "a page that does not advance is not fetched again")
}

func TestUnauthorizedIsNotRetryable(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", pipelinesQ, fail(http.StatusUnauthorized, "error_401.json"))

	_, _, err := newClient(rp).FetchReleaseArtifact(context.Background(), tag, "release-artifact", artifactFile, &bytes.Buffer{}, nil)
	var api *APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, http.StatusUnauthorized, api.Status)
	assert.Equal(t, "401 Unauthorized", api.Message)
	assert.Equal(t, "GET", api.Method)
	assert.Equal(t, rp.srv.URL+pipelinesQ, api.URL)
	assert.NotContains(t, err.Error(), token)
	assert.True(t, IsNotRetryable(err))
}

func TestNumericProjectNotFound(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", "/api/v4/projects/42/jobs/5003", fail(http.StatusNotFound, "error_404_project.json"))
	c := newClient(rp)
	c.Project = "42"

	_, err := c.Job(context.Background(), 5003)
	assert.EqualError(t, err, "gitlab: GET "+rp.srv.URL+"/api/v4/projects/42/jobs/5003: HTTP 404: 404 Project Not Found")
	assert.True(t, IsNotRetryable(err))
}

func TestServerErrorIsRetryable(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", jobPath, reply{status: http.StatusBadGateway, body: []byte("<html>502 Bad Gateway</html>\n")})

	_, err := newClient(rp).Job(context.Background(), 5003)
	var api *APIError
	require.ErrorAs(t, err, &api)
	assert.Equal(t, "<html>502 Bad Gateway</html>", api.Message)
	assert.False(t, IsNotRetryable(err))
}

func TestProjectPathKeepsEncodedSlashes(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", "/api/v4/projects/platform%2Fops%2Ftsd-import/pipelines?order_by=id&ref=v1.4.0-rel&sort=desc", ok("pipelines_tag.json"))
	c := newClient(rp)
	c.Project = "platform/ops/tsd-import"

	_, err := c.FindTagPipeline(context.Background(), tag)
	require.NoError(t, err)
	require.Len(t, rp.seen(), 1)
	assert.Equal(t, "/api/v4/projects/platform%2Fops%2Ftsd-import/pipelines", rp.seen()[0].EscapedPath)
}

func TestWaitJobReturnsPromptlyOnCancel(t *testing.T) {
	rp := newReplay(t)
	rp.on("GET", jobPath, ok("job_running.json"))
	c := newClient(rp)
	c.PollInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	start := time.Now()
	_, err := c.WaitJob(ctx, 5003, func(Job) { cancel() })
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, err.Error(), "job 5003")
	assert.False(t, IsNotRetryable(err))
}

func TestIsNotRetryable(t *testing.T) {
	assert.False(t, IsNotRetryable(nil))
	assert.False(t, IsNotRetryable(errors.New("connection reset")))
	assert.True(t, IsNotRetryable(&APIError{Status: http.StatusForbidden}))
	assert.False(t, IsNotRetryable(&APIError{Status: http.StatusTooManyRequests}))
}
