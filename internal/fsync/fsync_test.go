package fsync

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTreeAndDir(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "a", "b", "f"), []byte("x"), 0o644))
	require.NoError(t, os.Symlink("/nonexistent", filepath.Join(root, "a", "link")))
	assert.NoError(t, Tree(root), "a dangling link is left alone")
	assert.NoError(t, Dir(root))
	err := Dir(filepath.Join(root, "missing"))
	assert.True(t, os.IsNotExist(err), "%v", err)
	assert.Error(t, Tree(filepath.Join(root, "missing")))
}
