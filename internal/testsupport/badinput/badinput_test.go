package badinput

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorpusIsReproducible regenerates the corpus into a temporary directory, twice, and
// compares it byte for byte with testdata/bad: the generator is deterministic and the
// checked-in files, found/ included, are its output.
func TestCorpusIsReproducible(t *testing.T) {
	read := func(dir string) map[string][]byte {
		files := map[string][]byte{}
		require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			require.NoError(t, err)
			rel, _ := filepath.Rel(dir, p)
			if info.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			files[rel] = b
			return nil
		}))
		return files
	}
	a, b := t.TempDir(), t.TempDir()
	require.NoError(t, Write(a))
	require.NoError(t, Write(b))
	fresh, again, checkedIn := read(a), read(b), read(Dir())
	require.Equal(t, len(fresh), len(again))
	for rel, body := range fresh {
		assert.True(t, bytes.Equal(body, again[rel]), "%s differs between two runs of the generator", rel)
	}
	for rel := range checkedIn {
		assert.Contains(t, fresh, rel, "testdata/bad/%s is not written by the generator: run go run ./internal/testsupport/badinput/gen", rel)
	}
	for rel, body := range fresh {
		assert.True(t, bytes.Equal(body, checkedIn[rel]), "testdata/bad/%s is not the generator's output: run go run ./internal/testsupport/badinput/gen", rel)
	}
}
