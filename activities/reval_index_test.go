package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/testsupport/searchtest"
)

// esFor gives a test the stack's OpenSearch cleared of the sync's indices and aliases.
func esFor(t *testing.T) *esclient.Client { return searchtest.Fresh(t) }

func fillIndex(t *testing.T, es *esclient.Client, index string, n int) {
	t.Helper()
	var docs []esclient.Doc
	for i := range n {
		d := revalsim.Generate(9, i)
		src := reval.ConnectionDoc(viaJSON[reval.ConnectionInfo](t, d.Connection))
		for k, v := range reval.GMCDoc(viaJSON[reval.RevalidationSummary](t, d.GMC)) {
			src[k] = v
		}
		docs = append(docs, esclient.Doc{ID: reval.DocID(d.Connection.TCSPersonID), Source: src})
	}
	_, err := es.BulkIndex(context.Background(), index, docs, esclient.WithRefresh())
	require.NoError(t, err)
}

func indexName(i int) string {
	return reval.MasterDoctorIndexName(time.Date(2026, 11, i, 0, 0, 0, 0, time.UTC))
}

func TestSearchIndexStepsFromALegacyIndexToTheSecondBuild(t *testing.T) {
	ctx := context.Background()
	es := esFor(t)
	a := &SearchIndexActivities{ES: es}
	env := activityEnv()
	env.RegisterActivity(a)

	// Before opsflow: a concrete masterdoctorindex, as the services created it.
	require.NoError(t, es.CreateIndex(ctx, reval.MasterDoctorAlias, reval.MasterDoctorMapping()))
	fillIndex(t, es, reval.MasterDoctorAlias, 50)

	v, err := env.ExecuteActivity(a.CreateSyncIndex, SyncIndexInput{Index: indexName(1)})
	require.NoError(t, err)
	var live LiveIndexState
	require.NoError(t, v.Get(&live))
	assert.Equal(t, LiveIndexState{Indices: []string{reval.MasterDoctorAlias}, Legacy: true, Count: 50}, live)

	fillIndex(t, es, indexName(1), 60)
	v, err = env.ExecuteActivity(a.CheckSyncIndex, CheckInput{Index: indexName(1), Connections: 60, MaxShrink: 0.1})
	require.NoError(t, err)
	var counts IndexCounts
	require.NoError(t, v.Get(&counts))
	assert.Equal(t, int64(60), counts.Total)
	assert.Equal(t, int64(60), counts.WithTCS)
	assert.Equal(t, int64(50), counts.LiveCount)
	cc, err := es.CountQuery(ctx, indexName(1), map[string]any{"term": map[string]any{"existsInGmc": true}})
	require.NoError(t, err)
	assert.Equal(t, cc, counts.CurrentConnections)

	v, err = env.ExecuteActivity(a.SwitchRevalAliases, SyncIndexInput{Index: indexName(1)})
	require.NoError(t, err)
	var sw SwitchResult
	require.NoError(t, v.Get(&sw))
	assert.True(t, sw.LegacyRemoved)
	for _, alias := range reval.AliasNames {
		idx, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		assert.Equal(t, []string{indexName(1)}, idx, alias)
	}
	n, err := es.Count(ctx, reval.CurrentConnectionsAlias)
	require.NoError(t, err)
	assert.Equal(t, counts.CurrentConnections, n, "the filter travels with the alias")

	// Repeating the switch (a retry after a lost answer) changes nothing.
	v, err = env.ExecuteActivity(a.SwitchRevalAliases, SyncIndexInput{Index: indexName(1)})
	require.NoError(t, err)
	require.NoError(t, v.Get(&sw))
	assert.True(t, sw.AlreadyDone)

	// Second and third builds; cleanup keeps one previous build.
	for _, i := range []int{2, 3} {
		_, err = env.ExecuteActivity(a.CreateSyncIndex, SyncIndexInput{Index: indexName(i)})
		require.NoError(t, err)
		fillIndex(t, es, indexName(i), 60)
		v, err = env.ExecuteActivity(a.SwitchRevalAliases, SyncIndexInput{Index: indexName(i)})
		require.NoError(t, err)
		require.NoError(t, v.Get(&sw))
		assert.Equal(t, []string{indexName(i - 1)}, sw.Previous)
	}
	v, err = env.ExecuteActivity(a.CleanupSyncIndexes, CleanupInput{Current: indexName(3), KeepPrevious: 1})
	require.NoError(t, err)
	var cleaned CleanupResult
	require.NoError(t, v.Get(&cleaned))
	assert.Equal(t, []string{indexName(1)}, cleaned.Deleted)
	assert.Equal(t, []string{indexName(2)}, cleaned.Kept)

	// The live build is never dropped.
	_, err = env.ExecuteActivity(a.DropSyncIndex, SyncIndexInput{Index: indexName(3)})
	require.Error(t, err)
	assert.Equal(t, ErrIndexStillLive, appErrType(t, err))
	_, err = env.ExecuteActivity(a.DropSyncIndex, SyncIndexInput{Index: indexName(2)})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(a.DropSyncIndex, SyncIndexInput{Index: indexName(2)})
	require.NoError(t, err, "dropping twice is fine")
}

func TestCheckSyncIndexRefusesIncompleteBuilds(t *testing.T) {
	ctx := context.Background()
	es := esFor(t)
	a := &SearchIndexActivities{ES: es}
	env := activityEnv()
	env.RegisterActivity(a)
	require.NoError(t, es.CreateIndex(ctx, indexName(1), reval.MasterDoctorMapping()))
	fillIndex(t, es, indexName(1), 100)
	_, err := env.ExecuteActivity(a.SwitchRevalAliases, SyncIndexInput{Index: indexName(1)})
	require.NoError(t, err)

	require.NoError(t, es.CreateIndex(ctx, indexName(2), reval.MasterDoctorMapping()))
	_, err = env.ExecuteActivity(a.CheckSyncIndex, CheckInput{Index: indexName(2), MaxShrink: 0.1})
	require.Error(t, err)
	assert.Equal(t, ErrSyncIndexEmpty, appErrType(t, err))
	assert.Contains(t, err.Error(), "the live index ["+indexName(1)+"] still serves")

	fillIndex(t, es, indexName(2), 80)
	_, err = env.ExecuteActivity(a.CheckSyncIndex, CheckInput{Index: indexName(2), Connections: 90, MaxShrink: 0.5})
	require.Error(t, err)
	assert.Equal(t, ErrSyncIncomplete, appErrType(t, err))
	assert.Contains(t, err.Error(), "TCS announced 90")

	_, err = env.ExecuteActivity(a.CheckSyncIndex, CheckInput{Index: indexName(2), Connections: 80, MaxShrink: 0.1})
	require.Error(t, err)
	assert.Equal(t, ErrSyncIndexShrunk, appErrType(t, err))

	_, err = env.ExecuteActivity(a.CheckSyncIndex, CheckInput{Index: indexName(2), Connections: 80, MaxShrink: 0.25})
	require.NoError(t, err, "within the allowed shrink")
	idx, err := es.AliasIndices(ctx, reval.MasterDoctorAlias)
	require.NoError(t, err)
	assert.Equal(t, []string{indexName(1)}, idx, "checks never touch the aliases")
}
