package checksum_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/checksum"
)

const fox = "The quick brown fox jumps over the lazy dog"

// Known-answer vectors from FIPS 180-2, RFC 1321 and the widely published "fox" digests.
var vectors = []struct {
	name, content, sha256, md5 string
}{
	{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "d41d8cd98f00b204e9800998ecf8427e"},
	{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "900150983cd24fb0d6963f7d28e17f72"},
	{"fox", fox, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592", "9e107d9d372bb6826bd81d3542a419d6"},
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "artifact.tar.gz")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestKnownVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			path := writeFile(t, v.content)
			wantSize := int64(len(v.content))

			sum, size, err := checksum.SHA256File(path)
			require.NoError(t, err)
			assert.Equal(t, v.sha256, sum)
			assert.Equal(t, wantSize, size)

			sum, size, err = checksum.SHA256Reader(strings.NewReader(v.content))
			require.NoError(t, err)
			assert.Equal(t, v.sha256, sum)
			assert.Equal(t, wantSize, size)

			sum, size, err = checksum.MD5File(path)
			require.NoError(t, err)
			assert.Equal(t, v.md5, sum)
			assert.Equal(t, wantSize, size)

			require.NoError(t, checksum.VerifySHA256(path, strings.ToUpper(v.sha256)))
			require.NoError(t, checksum.VerifyMD5(path, v.md5, wantSize))
			require.NoError(t, checksum.VerifyMD5(path, v.md5, -1))
		})
	}
}

func TestSHA256ReaderError(t *testing.T) {
	_, _, err := checksum.SHA256Reader(iotest.ErrReader(fs.ErrClosed))
	require.ErrorIs(t, err, fs.ErrClosed)
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.tar.gz")
	for name, call := range map[string]func() error{
		"SHA256File":   func() error { _, _, err := checksum.SHA256File(missing); return err },
		"MD5File":      func() error { _, _, err := checksum.MD5File(missing); return err },
		"VerifySHA256": func() error { return checksum.VerifySHA256(missing, vectors[0].sha256) },
		"VerifyMD5":    func() error { return checksum.VerifyMD5(missing, vectors[0].md5, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), missing)
		})
	}
}

func TestVerifySHA256Mismatch(t *testing.T) {
	path := writeFile(t, "abc")

	err := checksum.VerifySHA256(path, vectors[0].sha256)

	var mismatch *checksum.MismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, &checksum.MismatchError{Path: path, Algorithm: "sha256", Want: vectors[0].sha256, Got: vectors[1].sha256}, mismatch)
	assert.EqualError(t, err, "sha256 mismatch for "+path+": want "+vectors[0].sha256+", got "+vectors[1].sha256)
}

func TestVerifyMD5Mismatch(t *testing.T) {
	path := writeFile(t, "abc")

	t.Run("digest", func(t *testing.T) {
		err := checksum.VerifyMD5(path, vectors[0].md5, 3)
		var mismatch *checksum.MismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.Equal(t, &checksum.MismatchError{Path: path, Algorithm: "md5", Want: vectors[0].md5, Got: vectors[1].md5}, mismatch)
		assert.EqualError(t, err, "md5 mismatch for "+path+": want "+vectors[0].md5+", got "+vectors[1].md5)
	})
	t.Run("size reported before digest", func(t *testing.T) {
		err := checksum.VerifyMD5(path, vectors[0].md5, 10)
		var mismatch *checksum.SizeMismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.Equal(t, &checksum.SizeMismatchError{Path: path, Want: 10, Got: 3}, mismatch)
		assert.EqualError(t, err, "size mismatch for "+path+": want 10 bytes, got 3")
	})
	t.Run("size with right digest", func(t *testing.T) {
		var mismatch *checksum.SizeMismatchError
		require.ErrorAs(t, checksum.VerifyMD5(path, vectors[1].md5, 0), &mismatch)
	})
	t.Run("negative size skips the size check", func(t *testing.T) {
		var mismatch *checksum.MismatchError
		require.ErrorAs(t, checksum.VerifyMD5(path, vectors[0].md5, -1), &mismatch)
	})
}

func TestVerifyRejectsMalformedDigest(t *testing.T) {
	path := writeFile(t, "abc")
	require.ErrorContains(t, checksum.VerifySHA256(path, vectors[1].md5), "sha256 digest must be 64 hex characters")
	require.ErrorContains(t, checksum.VerifyMD5(path, vectors[1].sha256, 3), "md5 digest must be 32 hex characters")
}

func TestNormalizeHex(t *testing.T) {
	sha := vectors[1].sha256
	tests := []struct {
		name, algorithm, digest string
		want, err               string
	}{
		{"sha256 lowercase", "sha256", sha, sha, ""},
		{"sha256 uppercase", "sha256", strings.ToUpper(sha), sha, ""},
		{"sha256 from sha256sum output line", "sha256", "  " + sha + "\n", sha, ""},
		{"md5 mixed case", "md5", "900150983CD24FB0D6963F7D28E17F72", vectors[1].md5, ""},
		{"sha256 too short", "sha256", sha[:63], "", `sha256 digest must be 64 hex characters, got "` + sha[:63] + `"`},
		{"sha256 too long", "sha256", sha + "0", "", "sha256 digest must be 64 hex characters"},
		{"sha256 non-hex", "sha256", "g" + sha[1:], "", "sha256 digest must be 64 hex characters"},
		{"sha256 with prefix", "sha256", "sha256:" + sha, "", "sha256 digest must be 64 hex characters"},
		{"sha256 empty", "sha256", "", "", `sha256 digest must be 64 hex characters, got ""`},
		{"md5 given sha256", "md5", sha, "", "md5 digest must be 32 hex characters"},
		{"inner space", "md5", "900150983cd24fb0 d6963f7d28e17f7", "", "md5 digest must be 32 hex characters"},
		{"unknown algorithm", "sha1", "a9993e364706816aba3e25717850c26c9cd0d89d", "", `unsupported algorithm "sha1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checksum.NormalizeHex(tt.algorithm, tt.digest)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
