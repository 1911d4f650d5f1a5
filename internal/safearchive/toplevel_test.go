package safearchive_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/safearchive"
)

func TestTopLevelDir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"single directory", func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "app-v1.2.3", "bin"), 0o755))
		}, "app-v1.2.3"},
		{"files at root", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "VERSION"), []byte("v1\n"), 0o644))
		}, ""},
		{"directory and file", func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "app"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "VERSION"), []byte("v1\n"), 0o644))
		}, ""},
		{"two directories", func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "a"), 0o755))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "b"), 0o755))
		}, ""},
		{"symlink to directory", func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(dir, "link")))
		}, ""},
		{"empty", func(*testing.T, string) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			got, err := safearchive.TopLevelDir(dir)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTopLevelDirOfExtractedFixture(t *testing.T) {
	_, dest := newDest(t)
	_, err := safearchive.ExtractTarGzFile(filepath.Join(fixtures, "good.tar.gz"), dest, safearchive.Options{})
	require.NoError(t, err)

	got, err := safearchive.TopLevelDir(dest)
	require.NoError(t, err)
	assert.Empty(t, got, "good.tar.gz has VERSION, bin/ and current at its root")
}

func TestTopLevelDirMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := safearchive.TopLevelDir(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), missing)
}
