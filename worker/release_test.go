package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/config"
)

func TestSelectSites(t *testing.T) {
	cfg := config.Default()
	cfg.Sites = config.DemoSites("/stack", "http://127.0.0.1:9001/RPC2", "u", "p")
	for spec, want := range map[string][]string{"all": {"nsc", "tsd"}, "none": nil, "": nil, "tsd": {"tsd"}, " nsc , tsd": {"nsc", "tsd"}} {
		got, err := selectSites(cfg, spec)
		require.NoError(t, err, spec)
		assert.Equal(t, want, got, spec)
	}
	_, err := selectSites(cfg, "nsc,oslo")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown site "oslo"`)
}

// A process with neither the central worker nor a site worker refuses to start, before it
// registers anything.
func TestNothingToRun(t *testing.T) {
	cfg := config.Default()
	cfg.Central, cfg.SiteWorkers = false, "none"
	h := newHost(context.Background(), nil, cfg)
	require.NoError(t, registerRelease(h))
	require.NoError(t, registerImport(h))
	require.NoError(t, registerReval(h))
	require.NoError(t, registerNotify(h))
	err := h.run(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing to run")
}
