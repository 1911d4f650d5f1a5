package ident

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashedIdentifiersAreStableKeyedAndOpaque(t *testing.T) {
	h, err := NewHasher([]byte("0123456789abcdef-key"), true)
	require.NoError(t, err)
	id := h.ID("sample", "Diag-wgs123-NA12878")
	assert.True(t, strings.HasPrefix(id, "h-"))
	assert.Len(t, id, 18)
	assert.NotContains(t, id, "NA12878")
	assert.Equal(t, id, h.ID("sample", "Diag-wgs123-NA12878"), "stable")
	assert.NotEqual(t, id, h.ID("package", "Diag-wgs123-NA12878"), "kind is part of the hash")

	other, err := NewHasher([]byte("another-key-of-16+bytes"), true)
	require.NoError(t, err)
	assert.NotEqual(t, id, other.ID("sample", "Diag-wgs123-NA12878"), "keyed: no dictionary across deployments")
}

func TestNotSensitivePassesThroughAndShortKeysAreRefused(t *testing.T) {
	h, err := NewHasher(nil, false)
	require.NoError(t, err)
	assert.Equal(t, "v1.4.0-rel", h.ID("version", "v1.4.0-rel"))
	_, err = NewHasher([]byte("short"), true)
	assert.ErrorContains(t, err, "OPSFLOW_IDENTIFIER_KEY")
}
