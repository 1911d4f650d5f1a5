package codec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A keys file anyone but its owner may read is refused, naming the file, its mode and the fix.
func TestKeysFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "codec-keys")
	line, err := GenerateKey("k1")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(line+"\n"), 0o644))
	_, err = LoadKeyring(path, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+" is -rw-r--r--")
	assert.Contains(t, err.Error(), "chmod 600")

	require.NoError(t, os.Chmod(path, 0o600))
	_, err = LoadKeyring(path, "")
	assert.NoError(t, err)
}
