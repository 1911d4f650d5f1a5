package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
)

// buildsFixture drives the search-index activities on the stack's OpenSearch.
type buildsFixture struct {
	t   *testing.T
	ctx context.Context
	es  *esclient.Client
	a   *SearchIndexActivities
	env *testsuite.TestActivityEnvironment
}

func newBuilds(t *testing.T) *buildsFixture {
	es := esFor(t)
	f := &buildsFixture{t: t, ctx: context.Background(), es: es, a: &SearchIndexActivities{ES: es}, env: activityEnv()}
	f.env.RegisterActivity(f.a)
	return f
}

// build creates build i with n documents (as CreateSyncIndex and the ingest leave it).
func (f *buildsFixture) build(i, n int) string {
	f.t.Helper()
	_, err := f.env.ExecuteActivity(f.a.CreateSyncIndex, SyncIndexInput{Index: indexName(i)})
	require.NoError(f.t, err)
	if n > 0 {
		fillIndex(f.t, f.es, indexName(i), n)
	}
	return indexName(i)
}

func (f *buildsFixture) switchTo(index string) SwitchResult {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.a.SwitchRevalAliases, SyncIndexInput{Index: index})
	require.NoError(f.t, err)
	var sw SwitchResult
	require.NoError(f.t, v.Get(&sw))
	return sw
}

func (f *buildsFixture) cleanup(current string, keep int) CleanupResult {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.a.CleanupSyncIndexes, CleanupInput{Current: current, KeepPrevious: keep})
	require.NoError(f.t, err)
	var res CleanupResult
	require.NoError(f.t, v.Get(&res))
	return res
}

func (f *buildsFixture) record(index string) buildRecord {
	f.t.Helper()
	metas, err := f.es.IndexMeta(f.ctx, index)
	require.NoError(f.t, err)
	return recordOf(metas[index])
}

func (f *buildsFixture) exists(index string) bool {
	f.t.Helper()
	ok, err := f.es.IndexExists(f.ctx, index)
	require.NoError(f.t, err)
	return ok
}

// aliasesOn asserts all four aliases point at index alone, with their filters: the filtered
// aliases count what their filter matches in index.
func (f *buildsFixture) aliasesOn(index string) {
	f.t.Helper()
	for _, alias := range reval.AliasNames {
		idx, err := f.es.AliasIndices(f.ctx, alias)
		require.NoError(f.t, err)
		assert.Equal(f.t, []string{index}, idx, alias)
	}
	total, err := f.es.Count(f.ctx, index)
	require.NoError(f.t, err)
	for alias, filter := range map[string]map[string]any{
		reval.MasterDoctorAlias:       nil,
		reval.RecommendationsAlias:    nil,
		reval.CurrentConnectionsAlias: {"term": map[string]any{"existsInGmc": true}},
		reval.DiscrepanciesAlias:      {"script": map[string]any{"script": reval.DiscrepanciesScript}},
	} {
		want := total
		if filter != nil {
			want, err = f.es.CountQuery(f.ctx, index, filter)
			require.NoError(f.t, err)
			require.Less(f.t, want, total, "the fixture must make %s's filter matter", alias)
		}
		got, err := f.es.Count(f.ctx, alias)
		require.NoError(f.t, err)
		assert.Equal(f.t, want, got, "%s counts through its filter on %s", alias, index)
	}
}

// Cleanup used to keep the newest builds by name: an abandoned build was "kept for rollback"
// while the last build that served was deleted. Now only builds that served count.
func TestCleanupKeepsTheBuildsThatServedAndDropsAbandonedOnes(t *testing.T) {
	f := newBuilds(t)
	// b1 served before opsflow recorded anything: its aliases were added directly.
	b1 := f.build(1, 40)
	require.NoError(t, f.es.SwitchAliases(f.ctx, reval.AddAliases(b1)))
	assert.False(t, f.record(b1).good(), "no record yet")
	b2 := f.build(2, 0) // abandoned: aborted right after the index was created
	b3 := f.build(3, 50)
	assert.Equal(t, []string{b1}, f.switchTo(b3).Previous)
	assert.True(t, f.record(b1).good(), "the index that held the aliases before the switch served")
	assert.True(t, f.record(b3).good())
	assert.False(t, f.record(b2).good())
	b4 := f.build(4, 45) // abandoned: refused by the check, its drop failed
	b5 := f.build(5, 50)
	assert.Equal(t, []string{b3}, f.switchTo(b5).Previous)
	b6 := f.build(6, 10) // a concurrent build, newer than the current one

	res := f.cleanup(b5, 1)
	assert.Equal(t, []string{b3}, res.Kept, "the last build that served, not the newer abandoned one")
	assert.Equal(t, []string{b4, b2, b1}, res.Deleted)
	assert.Equal(t, []string{b4, b2}, res.Abandoned)
	for _, ix := range []string{b3, b5, b6} {
		assert.True(t, f.exists(ix), ix)
	}
	for _, ix := range res.Deleted {
		assert.False(t, f.exists(ix), ix)
	}
	f.aliasesOn(b5)

	// An index holding any alias is never deleted, whatever it is.
	require.NoError(t, f.es.SwitchAliases(f.ctx, []esclient.AliasAction{{Add: true, Index: b3, Alias: reval.RecommendationsAlias}}))
	res = f.cleanup(b5, 0)
	assert.Equal(t, []string{b3}, res.Kept)
	assert.Empty(t, res.Deleted)
}

// A switch repeated after a lost answer finds the aliases moved and still records the build.
func TestSwitchRepeatedRecordsTheBuildThatServes(t *testing.T) {
	f := newBuilds(t)
	b1 := f.build(1, 20)
	f.switchTo(b1)
	served := f.record(b1).ServedAt
	require.False(t, served.IsZero())
	require.NoError(t, f.es.SetIndexMeta(f.ctx, b1, metaKey, map[string]any{})) // the record was lost
	sw := f.switchTo(b1)
	assert.True(t, sw.AlreadyDone)
	assert.True(t, f.record(b1).good())
	first := f.record(b1).ServedAt
	f.switchTo(b1)
	assert.Equal(t, first, f.record(b1).ServedAt, "the first time it served counts")
}

func (f *buildsFixture) plan(env string) (RevalRollbackPlan, error) {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.a.PreviousServedBuild, RevalRollbackInput{Environment: env})
	var p RevalRollbackPlan
	if err == nil {
		require.NoError(f.t, v.Get(&p))
	}
	return p, err
}

func (f *buildsFixture) rollback(env string, p RevalRollbackPlan) (RevalRollbackResult, error) {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.a.RollbackRevalAliases, RevalRollbackAliasesInput{Environment: env, From: p.From, To: p.To})
	var r RevalRollbackResult
	if err == nil {
		require.NoError(f.t, v.Get(&r))
	}
	return r, err
}

func TestRollbackMovesAllFourAliasesBackToThePreviousBuildThatServed(t *testing.T) {
	f := newBuilds(t)
	b1 := f.build(1, 50)
	f.switchTo(b1)
	b2 := f.build(2, 55) // abandoned: newer than b1 but never served
	b3 := f.build(3, 60)
	f.switchTo(b3)

	p, err := f.plan("preprod")
	require.NoError(t, err)
	assert.Equal(t, RevalRollbackPlan{From: b3, To: b1, FromCount: 60, ToCount: 50}, p, "the newest build that served, skipping the abandoned one")

	r, err := f.rollback("preprod", p)
	require.NoError(t, err)
	f.aliasesOn(b1)
	assert.Equal(t, b3, r.From)
	assert.Equal(t, b1, r.To)
	assert.Equal(t, int64(50), r.Count)
	cc, err := f.es.CountQuery(f.ctx, b1, map[string]any{"term": map[string]any{"existsInGmc": true}})
	require.NoError(t, err)
	assert.Equal(t, cc, r.CurrentConnections)
	assert.Positive(t, r.Discrepancies)
	assert.False(t, r.AlreadyDone)
	assert.True(t, f.exists(b3), "the build rolled back from is kept")
	assert.False(t, f.record(b3).RolledBackAt.IsZero())
	assert.False(t, f.record(b3).good(), "a build rolled back from is not a good build")

	// A retry after a lost answer changes nothing.
	r, err = f.rollback("preprod", p)
	require.NoError(t, err)
	assert.True(t, r.AlreadyDone)
	f.aliasesOn(b1)

	// Nothing older than b1 served: a second rollback is refused, naming what keeps serving.
	_, err = f.plan("preprod")
	require.Error(t, err)
	assert.Equal(t, ErrNoServedBuild, appErrType(t, err))
	assert.Contains(t, err.Error(), "preprod: no previous build that served is left to roll back to; "+b1+" keeps serving")

	// The next sync's cleanup keeps b1 (the good build before it) and drops the bad b3.
	b4 := f.build(4, 52)
	f.switchTo(b4)
	res := f.cleanup(b4, 1)
	assert.Equal(t, []string{b1}, res.Kept)
	assert.Equal(t, []string{b3, b2}, res.Deleted)
	assert.Equal(t, []string{b2}, res.Abandoned)
}

func TestRollbackIsRefusedWhenNoBuildThatServedIsLeft(t *testing.T) {
	f := newBuilds(t)
	_, err := f.plan("dev")
	require.Error(t, err, "nothing serves yet")
	assert.Equal(t, ErrNoServedBuild, appErrType(t, err))
	assert.Contains(t, err.Error(), "dev: no opsflow build serves masterdoctorindex")

	f.build(1, 30) // abandoned
	b2 := f.build(2, 30)
	f.switchTo(b2)
	_, err = f.plan("dev")
	require.Error(t, err)
	assert.Equal(t, ErrNoServedBuild, appErrType(t, err))
	assert.Contains(t, err.Error(), "dev: no previous build that served is left to roll back to; "+b2+" keeps serving")
	f.aliasesOn(b2)
}

func TestRollbackIsRefusedWhenThePreviousBuildIsEmptyGoneOrTheAliasesMoved(t *testing.T) {
	t.Run("emptied", func(t *testing.T) {
		f := newBuilds(t)
		b1 := f.build(1, 0)
		f.switchTo(b1) // it served, and holds nothing now
		b2 := f.build(2, 40)
		f.switchTo(b2)
		_, err := f.plan("prod")
		require.Error(t, err)
		assert.Equal(t, ErrRollbackTargetUnusable, appErrType(t, err))
		assert.Contains(t, err.Error(), "prod: the previous build "+b1+" holds no documents; not rolling back to it; "+b2+" keeps serving")
		f.aliasesOn(b2)
	})
	t.Run("deleted after the plan", func(t *testing.T) {
		f := newBuilds(t)
		b1 := f.build(1, 40)
		f.switchTo(b1)
		b2 := f.build(2, 40)
		f.switchTo(b2)
		p, err := f.plan("prod")
		require.NoError(t, err)
		require.NoError(t, f.es.DeleteIndex(f.ctx, b1))
		_, err = f.rollback("prod", p)
		require.Error(t, err)
		assert.Equal(t, ErrRollbackTargetUnusable, appErrType(t, err))
		assert.Contains(t, err.Error(), "prod: the previous build "+b1+" no longer exists; not rolling back; "+b2+" keeps serving")
		f.aliasesOn(b2)
		assert.True(t, f.record(b2).good(), "a refused rollback records nothing")
		_, err = f.plan("prod")
		require.Error(t, err)
		assert.Equal(t, ErrNoServedBuild, appErrType(t, err))
	})
	t.Run("a sync switched after the plan", func(t *testing.T) {
		f := newBuilds(t)
		b1 := f.build(1, 40)
		f.switchTo(b1)
		b2 := f.build(2, 40)
		f.switchTo(b2)
		p, err := f.plan("prod")
		require.NoError(t, err)
		b3 := f.build(3, 40)
		f.switchTo(b3)
		_, err = f.rollback("prod", p)
		require.Error(t, err)
		assert.Equal(t, ErrAliasesMoved, appErrType(t, err))
		f.aliasesOn(b3)
	})
}
