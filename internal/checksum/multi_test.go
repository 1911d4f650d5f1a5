package checksum_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/checksum"
)

func TestHashFileFromComputesBothDigestsInOnePassAndResumes(t *testing.T) {
	both := []string{checksum.MD5, checksum.SHA256}
	for _, size := range []int{0, 5, 1 << 20, 6<<20 + 7} {
		data := bytes.Repeat([]byte("ACGTTGCA"), size/8+1)[:size]
		path := filepath.Join(t.TempDir(), "r1.fastq")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		m, s := md5.Sum(data), sha256.Sum256(data)
		want := checksum.Digests{checksum.MD5: hex.EncodeToString(m[:]), checksum.SHA256: hex.EncodeToString(s[:])}

		var seen []checksum.Progress
		got, n, err := checksum.HashFileFrom(context.Background(), path, both, checksum.Progress{}, 0, func(p checksum.Progress) { seen = append(seen, p) })
		require.NoError(t, err)
		assert.Equal(t, want, got, "size %d", size)
		assert.Equal(t, int64(size), n)
		if size < 3<<20 {
			continue
		}
		require.GreaterOrEqual(t, len(seen), 2, "progress is reported while hashing")
		mid := seen[1]
		require.Len(t, mid.States, 2)

		// Resumed from a reported state with the hashed prefix garbled: the prefix is not read again.
		garbled := append(make([]byte, mid.Offset), data[mid.Offset:]...)
		require.NoError(t, os.WriteFile(path, garbled, 0o600))
		got, n, err = checksum.HashFileFrom(context.Background(), path, both, mid, time.Hour, func(checksum.Progress) {})
		require.NoError(t, err)
		assert.Equal(t, want, got)
		assert.Equal(t, int64(size), n)

		// A state missing one algorithm starts again.
		partial := checksum.Progress{Offset: mid.Offset, States: map[string][]byte{checksum.MD5: mid.States[checksum.MD5]}}
		got, _, err = checksum.HashFileFrom(context.Background(), path, both, partial, time.Hour, func(checksum.Progress) {})
		require.NoError(t, err)
		g := sha256.Sum256(garbled)
		assert.Equal(t, hex.EncodeToString(g[:]), got[checksum.SHA256])
	}
	_, _, err := checksum.HashFileFrom(context.Background(), "/nonexistent", both, checksum.Progress{}, 0, func(checksum.Progress) {})
	require.ErrorContains(t, err, "/nonexistent")
	_, _, err = checksum.HashFileFrom(context.Background(), "/nonexistent", []string{"sha1"}, checksum.Progress{}, 0, func(checksum.Progress) {})
	require.ErrorContains(t, err, `unsupported algorithm "sha1"`)
}
