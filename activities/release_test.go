package activities

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/gitrepo"
	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/testsupport/releaserepo"
)

func newReleaseActs(t *testing.T) (*ReleaseActivities, *releaserepo.Repo, *testsuite.TestActivityEnvironment) {
	dir := t.TempDir()
	r := releaserepo.New(t, dir)
	acts := &ReleaseActivities{
		Repo:        &gitrepo.Repo{Dir: r.Clone, Remote: "origin", Env: r.Env},
		Branches:    []string{"master", "main"},
		TaskQueue:   "opsflow",
		Environment: "test",
		Sites: map[string]release.Site{
			"nsc": {Name: "nsc", Components: []string{"nsc-exporter/"}, Services: []release.Service{{Name: "nsc-exporter"}}},
			"tsd": {Name: "tsd", Components: []string{"filelock-exporter/"}, Services: []release.Service{{Name: "filelock-exporter-api"}}},
		},
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return acts, r, env
}

func TestCreateReleaseTagTagsMasterHeadAndPushes(t *testing.T) {
	acts, r, env := newReleaseActs(t)
	head := r.Git(t, "rev-parse", "HEAD")
	v, err := env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.4.0-rel"})
	require.NoError(t, err)
	var res TagResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, TagResult{Tag: "v1.4.0-rel", Commit: head, Branch: "master", Created: true}, res)

	// The tag is annotated and on origin.
	other := releaserepo.Env(t.TempDir())
	clone := filepath.Join(t.TempDir(), "c")
	out := gitOut(t, other, "", "clone", "-q", r.Origin, clone)
	_ = out
	assert.Equal(t, "tag", gitOut(t, other, clone, "cat-file", "-t", "v1.4.0-rel"))
	assert.Equal(t, head, gitOut(t, other, clone, "rev-parse", "v1.4.0-rel^{commit}"))

	// Repeating is safe.
	v, err = env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.4.0-rel"})
	require.NoError(t, err)
	require.NoError(t, v.Get(&res))
	assert.False(t, res.Created)
	assert.Equal(t, head, res.Commit)
}

func TestCreateReleaseTagRefusesATagAtAnotherCommit(t *testing.T) {
	acts, r, env := newReleaseActs(t)
	_, err := env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.4.0-rel"})
	require.NoError(t, err)
	r.Commit(t, "later work", map[string]string{"nsc-exporter/exporter.py": "# later\n"})
	_, err = env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.4.0-rel"})
	app := requireAppError(t, err, ErrTagConflict)
	assert.Contains(t, app.Error(), "v1.4.0-rel already exists")
}

func TestCreateReleaseTagRejectsMalformedVersion(t *testing.T) {
	acts, r, env := newReleaseActs(t)
	_, err := env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.4.0"})
	app := requireAppError(t, err, ErrInvalidVersion)
	assert.Contains(t, app.Error(), `"v1.4.0"`)
	assert.Empty(t, r.Git(t, "tag", "--list"), "no tag created")
}

func TestChangedComponentsBetweenTags(t *testing.T) {
	acts, r, env := newReleaseActs(t)
	_, err := env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.0.0-rel"})
	require.NoError(t, err)
	r.Commit(t, "nsc change", map[string]string{"nsc-exporter/exporter.py": "# changed\n", "README.md": "docs\n"})
	_, err = env.ExecuteActivity(acts.CreateReleaseTag, TagInput{Version: "v1.1.0-rel"})
	require.NoError(t, err)

	head := r.Git(t, "rev-parse", "HEAD")
	get := func(in ChangeInput) ChangeResult {
		v, err := env.ExecuteActivity(acts.ChangedComponents, in)
		require.NoError(t, err)
		var res ChangeResult
		require.NoError(t, v.Get(&res))
		return res
	}
	assert.Equal(t, []string{"nsc-exporter/"}, get(ChangeInput{From: "v1.0.0-rel", To: head, Components: []string{"nsc-exporter/", "lims-exporter/"}}).Changed)
	assert.Empty(t, get(ChangeInput{From: "v1.0.0-rel", To: head, Components: []string{"filelock-exporter/"}}).Changed)
	unknown := get(ChangeInput{From: "v0.9.0-rel", To: head, Components: []string{"filelock-exporter/"}})
	assert.True(t, unknown.PreviousUnknown)
	assert.Equal(t, []string{"filelock-exporter/"}, unknown.Changed, "an unknown previous tag counts as changed")
}

func TestPlanReleaseResolvesNames(t *testing.T) {
	acts, _, env := newReleaseActs(t)
	v, err := env.ExecuteActivity(acts.PlanRelease, []string(nil))
	require.NoError(t, err)
	var plan ReleasePlan
	require.NoError(t, v.Get(&plan))
	assert.Equal(t, "test", plan.Environment)
	all := plan.Sites
	require.Len(t, all, 2)
	assert.Equal(t, SiteTarget{Name: "nsc", TaskQueue: "opsflow-site-nsc", Components: []string{"nsc-exporter/"}, Services: []string{"nsc-exporter"}}, all[0])

	_, err = env.ExecuteActivity(acts.PlanRelease, []string{"nsc", "oslo"})
	app := requireAppError(t, err, ErrUnknownSite)
	assert.Contains(t, app.Error(), `"oslo"`)
}
