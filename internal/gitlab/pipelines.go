package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Pipeline is the part of a GitLab pipeline the release needs.
type Pipeline struct {
	ID     int    `json:"id"`
	Ref    string `json:"ref"`
	Status string `json:"status"`
	SHA    string `json:"sha"`
	WebURL string `json:"web_url"`
}

// FindTagPipeline returns the newest pipeline for tag; a retried or re-run pipeline
// supersedes older ones.
func (c *Client) FindTagPipeline(ctx context.Context, tag string) (Pipeline, error) {
	u, err := c.projectURL("/pipelines", url.Values{"ref": {tag}, "order_by": {"id"}, "sort": {"desc"}})
	if err != nil {
		return Pipeline{}, err
	}
	var pipelines []Pipeline
	if _, err := c.doJSON(ctx, http.MethodGet, u, &pipelines); err != nil {
		return Pipeline{}, err
	}
	for _, p := range pipelines {
		if p.Ref == tag {
			return p, nil
		}
	}
	return Pipeline{}, fmt.Errorf("gitlab: %w for tag %s in project %s", ErrNoPipeline, tag, c.Project)
}
