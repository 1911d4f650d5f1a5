package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/gitlab"
	"github.com/opsflow/opsflow/internal/gitrepo"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/workflows"
)

// registerRelease wires release & deploy: on the central queue the workflows (ReleaseDeploy
// and its per-site SiteLock), the repository and artifact activities; on each site's queue
// <task-queue>-site-<name> (the sites --sites selects) that site's local activities.
func registerRelease(h *host) error {
	cfg := h.cfg
	if h.central != nil {
		s3c, err := h.S3()
		if err != nil {
			return err
		}
		if err := s3store.EnsureBucket(h.ctx, s3c, cfg.S3.ArtifactBucket); err != nil {
			return err
		}
		repo := &gitrepo.Repo{Dir: cfg.Release.RepoDir, Remote: cfg.Release.Remote}
		var source activities.ArtifactSource = &activities.LocalGitSource{Repo: repo, Package: cfg.Release.Package}
		if cfg.Release.ArtifactSource == "gitlab" {
			source = &activities.GitLabSource{
				Client:       &gitlab.Client{BaseURL: cfg.Release.GitLabURL, Token: cfg.Release.GitLabToken, Project: cfg.Release.GitLabProject},
				Job:          cfg.Release.GitLabJob,
				ArtifactPath: cfg.Release.GitLabArtifact,
			}
		}
		h.central.RegisterWorkflow(workflows.ReleaseDeploy)
		h.central.RegisterWorkflow(workflows.SiteLock)
		h.central.RegisterActivity(&activities.ReleaseActivities{Repo: repo, Branches: cfg.Release.Branches, Sites: cfg.Sites,
			TaskQueue: cfg.Temporal.TaskQueue, Environment: cfg.Environment, StuckAfter: cfg.StuckAfter})
		h.central.RegisterActivity(&activities.ArtifactActivities{Source: source, S3: s3c, Bucket: cfg.S3.ArtifactBucket, Package: cfg.Release.Package})
	}
	names, err := selectSites(cfg, cfg.SiteWorkers)
	if err != nil {
		return err
	}
	for _, name := range names {
		s3c, err := h.S3()
		if err != nil {
			return err
		}
		w := h.queue(config.SiteTaskQueue(cfg.Temporal.TaskQueue, name))
		services := &activities.SupervisorActivities{Site: cfg.Sites[name], Package: cfg.Release.Package, StableFor: cfg.Release.StableFor}
		w.RegisterActivity(services)
		w.RegisterActivity(&activities.SiteFilesActivities{Site: cfg.Sites[name], S3: s3c, Package: cfg.Release.Package,
			KeepVersions: cfg.Release.KeepVersions, Services: services})
	}
	slog.Info("release & deploy registered", "central", h.central != nil, "sites", names)
	return nil
}

// selectSites reads --sites: all, none, or a comma list of configured sites.
func selectSites(cfg config.Config, spec string) ([]string, error) {
	switch spec {
	case "all":
		return cfg.SiteNames(), nil
	case "none", "":
		return nil, nil
	}
	var out []string
	for _, n := range strings.Split(spec, ",") {
		n = strings.TrimSpace(n)
		if _, ok := cfg.Sites[n]; !ok {
			return nil, fmt.Errorf("--sites: unknown site %q (configured: %v)", n, cfg.SiteNames())
		}
		out = append(out, n)
	}
	return out, nil
}
