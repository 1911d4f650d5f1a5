package safearchive_test

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/safearchive"
)

const fixtures = "../../testdata/tarballs"

// newDest returns a destination path inside a fresh directory tree two levels below the
// test's temporary directory, so that "../" and "../../" escapes land where
// assertNothingLeft looks.
func newDest(t *testing.T) (base, dest string) {
	t.Helper()
	base = t.TempDir()
	parent := filepath.Join(base, "work")
	require.NoError(t, os.Mkdir(parent, 0o755))
	return base, filepath.Join(parent, "release")
}

// assertNothingLeft checks that base holds only the empty "work" directory newDest made:
// no dest, no ".partial-*" sibling and nothing that escaped from either.
func assertNothingLeft(t *testing.T, base string) {
	t.Helper()
	var found []string
	require.NoError(t, filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(base, p)
		found = append(found, rel)
		return err
	}))
	assert.Equal(t, []string{".", "work"}, found)
}

func TestExtractTarGzFileRefusesHostileArchives(t *testing.T) {
	tests := []struct {
		fixture, entry, reason string
	}{
		{"dotdot.tar.gz", "../escape.txt", "path escapes the target directory"},
		{"nested-dotdot.tar.gz", "a/../../escape.txt", "path escapes the target directory"},
		{"absolute.tar.gz", "/tmp/opsflow-absolute.txt", "absolute path"},
		{"symlink-escape.tar.gz", "evil", `symlink target "../../etc" points outside the target directory`},
		{"symlink-absolute.tar.gz", "evil", `symlink target "/etc/passwd" is absolute`},
		{"symlink-parent.tar.gz", "up", `symlink target ".." points outside the target directory`},
		{"symlink-chain.tar.gz", "esc", `symlink target "sub/back/.." has ".." after a name`},
		{"symlink-then-write.tar.gz", "link/file", `parent "link" is a symlink`},
		{"hardlink-escape.tar.gz", "passwd", `hard link target "/etc/passwd": absolute path`},
		{"device.tar.gz", "null", "character devices are not allowed"},
		{"fifo.tar.gz", "pipe", "FIFOs are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			base, dest := newDest(t)
			archive := filepath.Join(fixtures, tt.fixture)

			stats, err := safearchive.ExtractTarGzFile(archive, dest, safearchive.Options{})

			var unsafe *safearchive.UnsafeEntryError
			require.ErrorAs(t, err, &unsafe)
			assert.Equal(t, tt.entry, unsafe.Entry)
			assert.Contains(t, unsafe.Reason, tt.reason)
			assert.Contains(t, err.Error(), archive)
			assert.Contains(t, err.Error(), `unsafe archive entry "`+tt.entry+`"`)
			assert.Zero(t, stats)
			assertNothingLeft(t, base)
			assert.NoFileExists(t, "/tmp/opsflow-absolute.txt")
		})
	}
}

func TestExtractTarGzFileRefusesBrokenArchives(t *testing.T) {
	tests := []struct {
		fixture string
		wantIs  error
		message string
	}{
		{"truncated.tar.gz", io.ErrUnexpectedEOF, "unexpected EOF"},
		{"not-gzip.tar.gz", nil, "reading gzip header: gzip: invalid header"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			base, dest := newDest(t)
			archive := filepath.Join(fixtures, tt.fixture)

			_, err := safearchive.ExtractTarGzFile(archive, dest, safearchive.Options{})

			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), archive)
			assert.Contains(t, err.Error(), tt.message)
			assertNothingLeft(t, base)
		})
	}
}

func TestExtractTarGzFileRefusesInsecurePathsWithTarGodebug(t *testing.T) {
	// With tarinsecurepath=0 archive/tar flags the name itself; the error must not change.
	t.Setenv("GODEBUG", "tarinsecurepath=0")
	base, dest := newDest(t)

	_, err := safearchive.ExtractTarGzFile(filepath.Join(fixtures, "dotdot.tar.gz"), dest, safearchive.Options{})

	var unsafe *safearchive.UnsafeEntryError
	require.ErrorAs(t, err, &unsafe)
	assert.Equal(t, &safearchive.UnsafeEntryError{Entry: "../escape.txt", Reason: "path escapes the target directory"}, unsafe)
	assertNothingLeft(t, base)
}

func TestExtractTarGzFileGoodArchive(t *testing.T) {
	base, dest := newDest(t)

	stats, err := safearchive.ExtractTarGzFile(filepath.Join(fixtures, "good.tar.gz"), dest, safearchive.Options{})
	require.NoError(t, err)

	version, err := os.ReadFile(filepath.Join(dest, "VERSION"))
	require.NoError(t, err)
	assert.Equal(t, "v1.0.0-rel\n", string(version))
	assertMode(t, filepath.Join(dest, "VERSION"), 0o644)

	service, err := os.ReadFile(filepath.Join(dest, "bin", "service"))
	require.NoError(t, err)
	assert.Contains(t, string(service), "#!/bin/sh\n")
	assertMode(t, filepath.Join(dest, "bin", "service"), 0o755)

	target, err := os.Readlink(filepath.Join(dest, "current"))
	require.NoError(t, err)
	assert.Equal(t, "bin", target)

	assertMode(t, dest, fs.ModeDir|0o755)
	assertMode(t, filepath.Join(dest, "bin"), fs.ModeDir|0o755)
	assert.Equal(t, safearchive.Stats{Files: 2, Dirs: 1, Symlinks: 1, Bytes: int64(len(version) + len(service))}, stats)

	entries, err := os.ReadDir(dest)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "the pax global header must not become a file")
	siblings, err := os.ReadDir(filepath.Dir(dest))
	require.NoError(t, err)
	require.Len(t, siblings, 1, "no .partial-* directory may remain")
	assert.Equal(t, "release", siblings[0].Name())
	assert.DirExists(t, base)
}

func TestExtractTarGzFileRefusesExistingDestination(t *testing.T) {
	for name, create := range map[string]func(string) error{
		"empty dir": func(p string) error { return os.Mkdir(p, 0o755) },
		"file":      func(p string) error { return os.WriteFile(p, []byte("x"), 0o644) },
		"symlink":   func(p string) error { return os.Symlink("elsewhere", p) },
	} {
		t.Run(name, func(t *testing.T) {
			_, dest := newDest(t)
			require.NoError(t, create(dest))

			_, err := safearchive.ExtractTarGzFile(filepath.Join(fixtures, "good.tar.gz"), dest, safearchive.Options{})

			require.ErrorIs(t, err, fs.ErrExist)
			assert.Contains(t, err.Error(), dest)
			siblings, err := os.ReadDir(filepath.Dir(dest))
			require.NoError(t, err)
			assert.Len(t, siblings, 1, "only the pre-existing destination may remain")
			assert.NoFileExists(t, filepath.Join(dest, "VERSION"))
		})
	}
}

func TestExtractTarGzFileMissingArchive(t *testing.T) {
	base, dest := newDest(t)
	missing := filepath.Join(base, "missing.tar.gz")

	_, err := safearchive.ExtractTarGzFile(missing, dest, safearchive.Options{})

	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), missing)
	assertNothingLeft(t, base)
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	info, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, want, info.Mode(), path)
}
