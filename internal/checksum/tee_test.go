package checksum_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/checksum"
)

func digestsOf(data []byte) checksum.Digests {
	m, s := md5.Sum(data), sha256.Sum256(data)
	return checksum.Digests{checksum.MD5: hex.EncodeToString(m[:]), checksum.SHA256: hex.EncodeToString(s[:])}
}

// TestCopyHashedWritesAndHashesTheSameBytesAndResumesFromACheckpoint: the copy is the source
// byte for byte, the digests are the source's, and each checkpoint's states continue a copy
// that started again from the checkpoint's offset to the same digests.
func TestCopyHashedWritesAndHashesTheSameBytesAndResumesFromACheckpoint(t *testing.T) {
	both := []string{checksum.SHA256, checksum.MD5}
	for _, size := range []int{0, 5, 1 << 20, 6<<20 + 7} {
		data := bytes.Repeat([]byte("ACGTTGCAN"), size/9+1)[:size]
		var dst bytes.Buffer
		var seen []checksum.Progress
		// A reader returning short reads, as an HTTP body does.
		end, err := checksum.CopyHashed(context.Background(), &dst, iotest.HalfReader(bytes.NewReader(data)), both, checksum.Progress{}, 2<<20, 0,
			func(p checksum.Progress) { seen = append(seen, p) })
		require.NoError(t, err)
		assert.Equal(t, int64(size), end.Offset)
		assert.True(t, bytes.Equal(data, dst.Bytes()), "the copy is the source, size %d", size)
		sums, err := checksum.Finish(both, end)
		require.NoError(t, err)
		assert.Equal(t, digestsOf(data), sums, "size %d", size)
		if size < 4<<20 {
			continue
		}
		require.GreaterOrEqual(t, len(seen), 2, "checkpoints are reported")
		for i, p := range seen {
			assert.GreaterOrEqual(t, p.Offset, int64(2<<20)*int64(i+1), "a checkpoint at least every 2 MiB")
			require.Len(t, p.States, 2)
			prefix, err := checksum.Finish(both, p)
			require.NoError(t, err)
			assert.Equal(t, digestsOf(data[:p.Offset]), prefix, "the states are those after exactly Offset bytes")
		}
		mid := seen[0]
		resumed := bytes.NewBuffer(append([]byte(nil), data[:mid.Offset]...))
		end, err = checksum.CopyHashed(context.Background(), resumed, bytes.NewReader(data[mid.Offset:]), both, mid, 2<<20, 0, nil)
		require.NoError(t, err)
		sums, err = checksum.Finish(both, end)
		require.NoError(t, err)
		assert.Equal(t, digestsOf(data), sums)
		assert.True(t, bytes.Equal(data, resumed.Bytes()))
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.left < len(p) {
		return 0, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestCopyHashedStopsOnErrors(t *testing.T) {
	both := []string{checksum.SHA256, checksum.MD5}
	data := bytes.Repeat([]byte("ACGT"), 4<<20)

	_, err := checksum.CopyHashed(context.Background(), &failingWriter{left: 3 << 20}, bytes.NewReader(data), both, checksum.Progress{}, 1<<20, 0, nil)
	require.ErrorContains(t, err, "disk full")

	_, err = checksum.CopyHashed(context.Background(), io.Discard, io.MultiReader(bytes.NewReader(data[:5<<20]), iotest.ErrReader(errors.New("connection reset"))),
		both, checksum.Progress{}, 1<<20, 0, nil)
	require.ErrorContains(t, err, "connection reset")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = checksum.CopyHashed(ctx, io.Discard, bytes.NewReader(data), both, checksum.Progress{}, 1<<20, 0, nil)
	require.ErrorIs(t, err, context.Canceled)

	_, err = checksum.CopyHashed(context.Background(), io.Discard, bytes.NewReader(data), both, checksum.Progress{Offset: 10}, 1<<20, 0, nil)
	require.ErrorIs(t, err, checksum.ErrNoState, "an offset without states cannot continue")
	assert.False(t, checksum.Restorable(both, checksum.Progress{Offset: 10}))
	assert.True(t, checksum.Restorable(both, checksum.Progress{}))
	_, err = checksum.CopyHashed(context.Background(), io.Discard, strings.NewReader("x"), []string{"sha1"}, checksum.Progress{}, 1, 0, nil)
	require.ErrorContains(t, err, `unsupported algorithm "sha1"`)
}

// TestHashPrefixContinuesAsACopyWould: the states of a file's first n bytes, hashed from disk,
// continue with the rest of the stream to the whole stream's digests.
func TestHashPrefixContinuesAsACopyWould(t *testing.T) {
	both := []string{checksum.SHA256, checksum.MD5}
	data := bytes.Repeat([]byte("ACGTTGCAN"), 1<<19)
	path := filepath.Join(t.TempDir(), "R1.fastq.part")
	n := int64(3<<20 + 11)
	require.NoError(t, os.WriteFile(path, data[:n], 0o600))
	p, err := checksum.HashPrefix(context.Background(), path, both, n)
	require.NoError(t, err)
	assert.Equal(t, n, p.Offset)
	end, err := checksum.CopyHashed(context.Background(), nil, bytes.NewReader(data[n:]), both, p, 1<<20, 0, nil)
	require.NoError(t, err)
	sums, err := checksum.Finish(both, end)
	require.NoError(t, err)
	assert.Equal(t, digestsOf(data), sums)

	_, err = checksum.HashPrefix(context.Background(), path, both, n+1)
	require.ErrorContains(t, err, "holds 3145739 bytes, not 3145740")
	_, err = checksum.HashPrefix(context.Background(), filepath.Join(t.TempDir(), "missing"), both, 1)
	require.ErrorIs(t, err, os.ErrNotExist)
}
