package esclient

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The mapping _meta: set one key without losing the others (the engine replaces _meta as a
// whole), read it for a pattern, and a missing index is IsNotFound.
func TestIndexMetaSetOneKeyKeepsTheOthers(t *testing.T) {
	e := target(t)
	body := testMapping()
	body["mappings"].(map[string]any)["_meta"] = map[string]any{"owner": "services"}
	withMeta := e.index("meta-a", body)
	without := e.index("meta-b", testMapping())

	all, err := e.c.IndexMeta(e.ctx, e.p+"meta-*")
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{withMeta: {"owner": "services"}}, all, "an index without _meta is absent")

	require.NoError(t, e.c.SetIndexMeta(e.ctx, withMeta, "opsflow", map[string]any{"servedAt": "2026-11-23T10:11:12Z"}))
	require.NoError(t, e.c.SetIndexMeta(e.ctx, without, "opsflow", map[string]any{"servedAt": "2026-11-24T00:00:00Z"}))
	require.NoError(t, e.c.SetIndexMeta(e.ctx, without, "opsflow", map[string]any{"servedAt": "2026-11-24T00:00:00Z", "rolledBackAt": "2026-11-25T00:00:00Z"}))
	all, err = e.c.IndexMeta(e.ctx, e.p+"meta-*")
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		withMeta: {"owner": "services", "opsflow": map[string]any{"servedAt": "2026-11-23T10:11:12Z"}},
		without:  {"opsflow": map[string]any{"servedAt": "2026-11-24T00:00:00Z", "rolledBackAt": "2026-11-25T00:00:00Z"}},
	}, all)
	one, err := e.c.IndexMeta(e.ctx, withMeta)
	require.NoError(t, err)
	assert.Len(t, one, 1)

	e.bulk(withMeta, doctor("d1", true, "1-A", "1-A"))
	assert.Equal(t, int64(1), e.count(withMeta), "a _meta update leaves the documents alone")

	none, err := e.c.IndexMeta(e.ctx, e.p+"nomatch-*")
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = e.c.IndexMeta(e.ctx, e.p+"missing")
	assert.True(t, IsNotFound(err), "%v", err)
	err = e.c.SetIndexMeta(e.ctx, e.p+"missing", "opsflow", map[string]any{})
	assert.True(t, IsNotFound(err), "%v", err)
}
