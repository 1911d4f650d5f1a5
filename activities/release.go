package activities

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/gitrepo"
	"github.com/opsflow/opsflow/internal/release"
)

// ReleaseActivities act on the release repository and know the deployment sites. They run on
// the central task queue, where the repository clone lives.
type ReleaseActivities struct {
	Repo     *gitrepo.Repo
	Branches []string
	Sites    map[string]release.Site
	// TaskQueue is the deployment's central queue; site queues derive from it.
	TaskQueue string
	// Environment names the deployment, recorded on every run.
	Environment string
	// StuckAfter is handed to runs: no progress for this long notifies operators.
	StuckAfter time.Duration
}

// CreateReleaseTag tags the head of the release branch and pushes the tag. Repeating it is
// safe: an existing tag at the same commit is accepted, at another commit it is an error.
func (a *ReleaseActivities) CreateReleaseTag(ctx context.Context, in TagInput) (TagResult, error) {
	v, err := release.ParseVersion(in.Version)
	if err != nil {
		return TagResult{}, permanent(ErrInvalidVersion, nil, "%v", err)
	}
	tag := v.Tag()
	if _, err := a.PlanRelease(ctx, in.Sites); err != nil {
		return TagResult{}, err
	}
	if err := a.Repo.Fetch(ctx); err != nil {
		return TagResult{}, err
	}
	branch, head, err := a.Repo.ReleaseBranchHead(ctx, a.Branches...)
	if err != nil {
		return TagResult{}, err
	}
	existing, exists, err := a.Repo.TagCommit(ctx, tag)
	if err != nil {
		return TagResult{}, err
	}
	if in.DryRun {
		if exists && existing != head {
			return TagResult{}, permanent(ErrTagConflict, nil,
				"tag %s already exists at commit %s, but %s is at %s", tag, short(existing), branch, short(head))
		}
		return TagResult{Tag: tag, Commit: head, Branch: branch, Created: false}, nil
	}
	if exists {
		if existing != head {
			return TagResult{}, permanent(ErrTagConflict, nil,
				"tag %s already exists at commit %s, but %s is at %s: pick a new version or move %s deliberately",
				tag, short(existing), branch, short(head), tag)
		}
		activity.GetLogger(ctx).Info("release tag already at branch head", "tag", tag, "commit", short(head))
		// Push again in case an earlier attempt tagged locally but failed to push.
		if err := a.Repo.PushTag(ctx, tag); err != nil {
			return TagResult{}, err
		}
		return TagResult{Tag: tag, Commit: head, Branch: branch}, nil
	}
	if err := a.Repo.CreateAnnotatedTag(ctx, tag, head, "Release "+tag); err != nil {
		return TagResult{}, err
	}
	if err := a.Repo.PushTag(ctx, tag); err != nil {
		return TagResult{}, err
	}
	return TagResult{Tag: tag, Commit: head, Branch: branch, Created: true}, nil
}

// PlanRelease resolves the requested site names (all when empty) against the configuration.
func (a *ReleaseActivities) PlanRelease(ctx context.Context, names []string) (ReleasePlan, error) {
	if len(names) == 0 {
		for n := range a.Sites {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	out := make([]SiteTarget, 0, len(names))
	for _, n := range names {
		s, ok := a.Sites[n]
		if !ok {
			known := make([]string, 0, len(a.Sites))
			for k := range a.Sites {
				known = append(known, k)
			}
			sort.Strings(known)
			return ReleasePlan{}, permanent(ErrUnknownSite, nil, "unknown site %q (configured: %v)", n, known)
		}
		out = append(out, SiteTarget{Name: n, TaskQueue: config.SiteTaskQueue(a.TaskQueue, n), Components: s.Components,
			Services: s.ServiceNames()})
	}
	return ReleasePlan{Environment: a.Environment, Sites: out, StuckAfter: a.StuckAfter}, nil
}

// ChangedComponents compares two tags, so a site is deployed only when its software changed.
func (a *ReleaseActivities) ChangedComponents(ctx context.Context, in ChangeInput) (ChangeResult, error) {
	ok, err := a.Repo.RefExists(ctx, "refs/tags/"+in.From)
	if err != nil {
		return ChangeResult{}, err
	}
	if !ok {
		return ChangeResult{Changed: in.Components, PreviousUnknown: true}, nil
	}
	paths, err := a.Repo.ChangedPaths(ctx, "refs/tags/"+in.From, in.To)
	if err != nil {
		return ChangeResult{}, fmt.Errorf("compare %s..%s: %w", in.From, in.To, err)
	}
	return ChangeResult{Changed: release.ChangedComponents(paths, in.Components)}, nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
