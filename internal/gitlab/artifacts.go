package gitlab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DownloadArtifactFile streams one file of a job's artifacts archive to w and returns its
// size. GitLab extracts the file server-side, so the whole archive is never transferred.
func (c *Client) DownloadArtifactFile(ctx context.Context, jobID int, artifactPath string, w io.Writer) (int64, error) {
	path := strings.TrimPrefix(artifactPath, "/")
	if path == "" {
		return 0, fmt.Errorf("gitlab: empty artifact path for job %d", jobID)
	}
	segments := strings.Split(path, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	u, err := c.projectURL(fmt.Sprintf("/jobs/%d/artifacts/%s", jobID, strings.Join(segments, "/")), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(ctx, http.MethodGet, u, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("gitlab: download %s of job %d after %d bytes: %w", artifactPath, jobID, n, err)
	}
	return n, nil
}

// FetchReleaseArtifact downloads artifactPath produced by job jobName of tag's newest
// pipeline, playing the job if it waits for a manual start. It is safe to repeat: a job
// already started or finished is waited for or downloaded, not played again.
func (c *Client) FetchReleaseArtifact(ctx context.Context, tag, jobName, artifactPath string, w io.Writer, progress func(Job)) (Job, int64, error) {
	p, err := c.FindTagPipeline(ctx, tag)
	if err != nil {
		return Job{}, 0, err
	}
	j, err := c.FindJob(ctx, p.ID, jobName)
	if err != nil {
		return Job{}, 0, err
	}
	if j.Status == StatusManual {
		played, err := c.PlayJob(ctx, j.ID)
		if err != nil {
			return j, 0, fmt.Errorf("gitlab: play job %s (#%d) for tag %s: %w", jobName, j.ID, tag, err)
		}
		j = played
		if progress != nil {
			progress(j)
		}
	}
	if j, err = c.WaitJob(ctx, j.ID, progress); err != nil {
		return j, 0, err
	}
	n, err := c.DownloadArtifactFile(ctx, j.ID, artifactPath, w)
	return j, n, err
}
