package checksum_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/checksum"
)

func TestMD5FileFromReportsProgressAndResumesFromIt(t *testing.T) {
	data := bytes.Repeat([]byte("ACGTTGCA"), 3<<18) // 6 MiB: several 1 MiB reads
	path := filepath.Join(t.TempDir(), "r1.fastq")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	sum := md5.Sum(data)
	want := hex.EncodeToString(sum[:])

	var seen []checksum.Progress
	got, size, err := checksum.MD5FileFrom(context.Background(), path, checksum.Progress{}, 0, func(p checksum.Progress) { seen = append(seen, p) })
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, int64(len(data)), size)
	require.GreaterOrEqual(t, len(seen), 3, "progress is reported while hashing")

	// Resumed from a reported state, with the hashed prefix garbled on disk: the digest is
	// still the file's, so the prefix was not read again.
	mid := seen[1]
	garbled := append(bytes.Repeat([]byte{0}, int(mid.Offset)), data[mid.Offset:]...)
	require.NoError(t, os.WriteFile(path, garbled, 0o600))
	got, size, err = checksum.MD5FileFrom(context.Background(), path, mid, time.Hour, func(checksum.Progress) {})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, int64(len(data)), size)

	// A state that does not restore, or an offset past the end, starts again.
	for _, bad := range []checksum.Progress{{Offset: mid.Offset, State: []byte("junk")}, {Offset: int64(len(data)) + 1, State: mid.State}} {
		got, _, err = checksum.MD5FileFrom(context.Background(), path, bad, time.Hour, func(checksum.Progress) {})
		require.NoError(t, err)
		g := md5.Sum(garbled)
		assert.Equal(t, hex.EncodeToString(g[:]), got)
	}

	require.NoError(t, checksum.VerifyMD5From(context.Background(), path, want, int64(len(data)), mid, time.Hour, func(checksum.Progress) {}))
	var sizeErr *checksum.SizeMismatchError
	assert.ErrorAs(t, checksum.VerifyMD5From(context.Background(), path, want, 1, checksum.Progress{}, time.Hour, func(checksum.Progress) {}), &sizeErr)
}
