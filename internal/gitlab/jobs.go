package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Job is the part of a GitLab CI job the release needs.
type Job struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Stage    string `json:"stage"`
	Ref      string `json:"ref"`
	WebURL   string `json:"web_url"`
	Pipeline struct {
		ID int `json:"id"`
	} `json:"pipeline"`
}

// Job statuses the client acts on; others (created, pending, running, …) mean "wait".
const (
	StatusManual   = "manual"
	StatusSuccess  = "success"
	StatusFailed   = "failed"
	StatusCanceled = "canceled"
	StatusSkipped  = "skipped"
)

// failed reports whether the job ended without producing artifacts.
func (j Job) failed() bool {
	switch j.Status {
	case StatusFailed, StatusCanceled, StatusSkipped:
		return true
	}
	return false
}

// jobsPerPage is GitLab's maximum page size, so most pipelines fit in one request.
const jobsPerPage = 100

// FindJob returns the job called name in the pipeline, following X-Next-Page. Retried
// attempts are left out, so a job retried in the GitLab UI is found as its latest attempt.
func (c *Client) FindJob(ctx context.Context, pipelineID int, name string) (Job, error) {
	var seen []string
	for page := 1; page > 0; {
		u, err := c.projectURL(fmt.Sprintf("/pipelines/%d/jobs", pipelineID), url.Values{
			"include_retried": {"false"},
			"per_page":        {strconv.Itoa(jobsPerPage)},
			"page":            {strconv.Itoa(page)},
		})
		if err != nil {
			return Job{}, err
		}
		var jobs []Job
		header, err := c.doJSON(ctx, http.MethodGet, u, &jobs)
		if err != nil {
			return Job{}, err
		}
		for _, j := range jobs {
			if j.Name == name {
				return j, nil
			}
			seen = append(seen, j.Name)
		}
		if page, err = nextPage(header, page); err != nil {
			return Job{}, fmt.Errorf("gitlab: jobs of pipeline %d of project %s: %w", pipelineID, c.Project, err)
		}
	}
	return Job{}, fmt.Errorf("gitlab: %w %q in pipeline %d of project %s (jobs: %s)",
		ErrUnknownJob, name, pipelineID, c.Project, strings.Join(seen, ", "))
}

// nextPage reads X-Next-Page, which is empty on the last page; 0 means stop. A page that
// does not move forward would loop forever, so it is an error.
func nextPage(header http.Header, current int) (int, error) {
	v := header.Get("X-Next-Page")
	if v == "" {
		return 0, nil
	}
	next, err := strconv.Atoi(v)
	if err != nil || next <= current {
		return 0, fmt.Errorf("invalid X-Next-Page %q after page %d", v, current)
	}
	return next, nil
}

// PlayJob starts a manual job and returns it in its new state.
func (c *Client) PlayJob(ctx context.Context, jobID int) (Job, error) {
	return c.job(ctx, http.MethodPost, fmt.Sprintf("/jobs/%d/play", jobID))
}

// Job returns the current state of a job.
func (c *Client) Job(ctx context.Context, jobID int) (Job, error) {
	return c.job(ctx, http.MethodGet, fmt.Sprintf("/jobs/%d", jobID))
}

func (c *Client) job(ctx context.Context, method, suffix string) (Job, error) {
	u, err := c.projectURL(suffix, nil)
	if err != nil {
		return Job{}, err
	}
	var j Job
	_, err = c.doJSON(ctx, method, u, &j)
	return j, err
}

// WaitJob polls the job every PollInterval until it succeeds, returning *JobFailedError
// if it fails, is canceled or skipped. progress, if not nil, sees every polled state, so
// callers can heartbeat. A poll error ends the wait: the caller's retry resumes it.
func (c *Client) WaitJob(ctx context.Context, jobID int, progress func(Job)) (Job, error) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return Job{}, fmt.Errorf("gitlab: waiting for job %d of project %s: %w", jobID, c.Project, ctx.Err())
		case <-timer.C:
		}
		j, err := c.Job(ctx, jobID)
		if err != nil {
			return j, err
		}
		if progress != nil {
			progress(j)
		}
		switch {
		case j.Status == StatusSuccess:
			return j, nil
		case j.failed():
			return j, &JobFailedError{Job: j}
		}
		timer.Reset(c.pollInterval())
	}
}
