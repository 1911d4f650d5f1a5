package safearchive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/safearchive"
)

type member struct {
	hdr  tar.Header
	body string
}

func reg(name, body string, mode int64) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func dir(name string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}}
}

func hardlink(name, target string) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func tarGz(t *testing.T, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		require.NoError(t, tw.WriteHeader(&m.hdr))
		_, err := tw.Write([]byte(m.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func extract(t *testing.T, archive []byte, opts safearchive.Options) (base, dest string, stats safearchive.Stats, err error) {
	t.Helper()
	base, dest = newDest(t)
	stats, err = safearchive.ExtractTarGz(bytes.NewReader(archive), dest, opts)
	return base, dest, stats, err
}

// requireRefused checks that the archive was refused because of entry and left nothing.
func requireRefused(t *testing.T, archive []byte, opts safearchive.Options, entry, reason string) {
	t.Helper()
	base, dest, stats, err := extract(t, archive, opts)
	var unsafe *safearchive.UnsafeEntryError
	require.ErrorAs(t, err, &unsafe)
	assert.Equal(t, entry, unsafe.Entry)
	assert.Contains(t, unsafe.Reason, reason)
	assert.Contains(t, err.Error(), dest)
	assert.Zero(t, stats)
	assertNothingLeft(t, base)
}

func TestExtractTarGzSymlinkTargets(t *testing.T) {
	tests := []struct {
		name, link, target string
		reason             string // "" means accepted
	}{
		{"self", "d", ".", ""},
		{"sibling", "current", "bin", ""},
		{"dangling inside", "lib", "lib64/libx.so", ""},
		{"leading dotdot to root", "sub/up", "..", ""},
		{"leading dotdot then name", "sub/lib", "../lib64/libx.so", ""},
		{"dotdot above root", "up", "..", "points outside the target directory"},
		{"dotdot above root from depth", "sub/up", "../..", "points outside the target directory"},
		{"dotdot after name", "esc", "sub/..", `has ".." after a name`},
		{"absolute", "abs", "/etc", "is absolute"},
		{"empty", "empty", "", "empty target"},
		{"backslash", "bs", `..\..\etc`, "contains a backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := tarGz(t, reg("ok.txt", "ok\n", 0o644), dir("sub/"), symlink(tt.link, tt.target))
			if tt.reason != "" {
				requireRefused(t, archive, safearchive.Options{}, tt.link, tt.reason)
				return
			}
			_, dest, stats, err := extract(t, archive, safearchive.Options{})
			require.NoError(t, err)
			got, err := os.Readlink(filepath.Join(dest, tt.link))
			require.NoError(t, err)
			assert.Equal(t, tt.target, got)
			assert.Equal(t, 1, stats.Symlinks)
		})
	}
}

func TestExtractTarGzRefusesWritingThroughSymlinks(t *testing.T) {
	tests := []struct {
		name          string
		members       []member
		entry, reason string
	}{
		{"file through link to dir", []member{dir("sub/"), symlink("link", "sub"), reg("link/x", "x", 0o644)}, "link/x", `parent "link" is a symlink`},
		{"file through link to root", []member{symlink("d", "."), reg("d/x", "x", 0o644)}, "d/x", `parent "d" is a symlink`},
		{"dir through link", []member{dir("sub/"), symlink("link", "sub"), dir("link/deeper/")}, "link/deeper/", `parent "link" is a symlink`},
		{"file deep through link", []member{dir("sub/"), symlink("link", "sub"), reg("link/a/b", "x", 0o644)}, "link/a/b", `parent "link" is a symlink`},
		{"file replacing link", []member{reg("target", "x", 0o644), symlink("link", "target"), reg("link", "y", 0o644)}, "link", "duplicate entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireRefused(t, tarGz(t, tt.members...), safearchive.Options{}, tt.entry, tt.reason)
		})
	}
}

func TestExtractTarGzHardlinks(t *testing.T) {
	t.Run("to an earlier file", func(t *testing.T) {
		archive := tarGz(t, reg("a", "shared\n", 0o640), hardlink("b", "a"))
		_, dest, stats, err := extract(t, archive, safearchive.Options{})
		require.NoError(t, err)
		a, err := os.Stat(filepath.Join(dest, "a"))
		require.NoError(t, err)
		b, err := os.Stat(filepath.Join(dest, "b"))
		require.NoError(t, err)
		assert.True(t, os.SameFile(a, b))
		assert.Equal(t, safearchive.Stats{Files: 2, Bytes: 7}, stats)
	})

	tests := []struct {
		name    string
		members []member
		reason  string
	}{
		{"to a symlink", []member{symlink("s", "x"), hardlink("h", "s")}, "not a regular file extracted earlier"},
		{"to a directory", []member{dir("sub/"), hardlink("h", "sub")}, "not a regular file extracted earlier"},
		{"to a later file", []member{hardlink("h", "later"), reg("later", "x", 0o644)}, "not a regular file extracted earlier"},
		{"outside", []member{reg("ok", "x", 0o644), hardlink("h", "../outside")}, "path escapes the target directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireRefused(t, tarGz(t, tt.members...), safearchive.Options{}, "h", tt.reason)
		})
	}
}

func TestExtractTarGzEntryNames(t *testing.T) {
	t.Run("root and dot prefixes are accepted", func(t *testing.T) {
		archive := tarGz(t, dir("./"), reg("./a/b.txt", "b", 0o644), dir("a/"), dir("./a/"))
		_, dest, stats, err := extract(t, archive, safearchive.Options{})
		require.NoError(t, err)
		assert.FileExists(t, filepath.Join(dest, "a", "b.txt"))
		assert.Equal(t, safearchive.Stats{Files: 1, Dirs: 1, Bytes: 1}, stats, "an implied directory is counted once")
	})

	tests := []struct {
		name    string
		members []member
		entry   string
		reason  string
	}{
		{"duplicate file", []member{reg("a", "1", 0o644), reg("a", "2", 0o644)}, "a", "duplicate entry"},
		{"dir over file", []member{reg("a", "1", 0o644), dir("a/")}, "a/", "duplicate entry"},
		{"file under file", []member{reg("a", "1", 0o644), reg("a/b", "2", 0o644)}, "a/b", `parent "a" is not a directory`},
		{"backslash", []member{reg(`..\evil`, "x", 0o644)}, `..\evil`, "backslash"},
		{"file named root", []member{reg(".", "x", 0o644)}, ".", "target directory itself"},
		{"block device", []member{{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda"}}}, "sda", "block devices are not allowed"},
		{"contiguous file", []member{{hdr: tar.Header{Typeflag: tar.TypeCont, Name: "c"}}}, "c", `unsupported entry type '7'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireRefused(t, tarGz(t, tt.members...), safearchive.Options{}, tt.entry, tt.reason)
		})
	}
}

func TestExtractTarGzFileModes(t *testing.T) {
	archive := tarGz(t,
		reg("setuid", "x", 0o4755),
		reg("private", "x", 0o600),
		reg("sticky-group", "x", 0o3777),
		member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "conf/", Mode: 0o2750}},
		member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "locked/", Mode: 0o500}},
		reg("locked/inside", "x", 0o644),
		reg("locked/deeper/file", "x", 0o644),
		reg("later/file", "x", 0o644),
		member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "later/", Mode: 0o700}},
	)
	_, dest, stats, err := extract(t, archive, safearchive.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dest, "locked"), 0o755) }) // let TempDir remove it

	assertMode(t, filepath.Join(dest, "setuid"), 0o755)
	assertMode(t, filepath.Join(dest, "private"), 0o600)
	assertMode(t, filepath.Join(dest, "sticky-group"), 0o777)
	assertMode(t, dest, fs.ModeDir|0o755)
	assertMode(t, filepath.Join(dest, "conf"), fs.ModeDir|0o750)
	assertMode(t, filepath.Join(dest, "locked"), fs.ModeDir|0o500)
	assertMode(t, filepath.Join(dest, "locked", "inside"), 0o644)
	assertMode(t, filepath.Join(dest, "locked", "deeper"), fs.ModeDir|0o755)
	assertMode(t, filepath.Join(dest, "locked", "deeper", "file"), 0o644)
	assertMode(t, filepath.Join(dest, "later"), fs.ModeDir|0o700)
	assert.Equal(t, safearchive.Stats{Files: 6, Dirs: 4, Bytes: 6}, stats)
}

func TestExtractTarGzRootEntryMode(t *testing.T) {
	archive := tarGz(t, member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o750}}, reg("./VERSION", "v1\n", 0o644))
	_, dest, _, err := extract(t, archive, safearchive.Options{})
	require.NoError(t, err)
	assertMode(t, dest, fs.ModeDir|0o750)
	assertMode(t, filepath.Join(dest, "VERSION"), 0o644)
}

func TestExtractTarGzLimits(t *testing.T) {
	archive := tarGz(t, reg("a", "12345678", 0o644), reg("b", "12345678", 0o644), reg("c", "12345678", 0o644))

	t.Run("within", func(t *testing.T) {
		_, _, stats, err := extract(t, archive, safearchive.Options{MaxFiles: 3, MaxBytes: 24})
		require.NoError(t, err)
		assert.Equal(t, safearchive.Stats{Files: 3, Bytes: 24}, stats)
	})
	t.Run("too many files", func(t *testing.T) {
		requireRefused(t, archive, safearchive.Options{MaxFiles: 2}, "c", "more than 2 entries (Options.MaxFiles)")
	})
	t.Run("directories count as entries", func(t *testing.T) {
		requireRefused(t, tarGz(t, dir("x/"), dir("y/")), safearchive.Options{MaxFiles: 1}, "y/", "Options.MaxFiles")
	})
	t.Run("too many bytes", func(t *testing.T) {
		requireRefused(t, archive, safearchive.Options{MaxBytes: 20}, "c", "more than 20 bytes (Options.MaxBytes)")
	})
}

func TestExtractTarGzVerifiesWholeGzipStream(t *testing.T) {
	good := tarGz(t, reg("a", "content", 0o644))

	t.Run("corrupt checksum", func(t *testing.T) {
		corrupt := bytes.Clone(good)
		corrupt[len(corrupt)-8] ^= 0xff // first byte of the CRC-32 in the gzip trailer
		base, _, _, err := extract(t, corrupt, safearchive.Options{})
		require.ErrorIs(t, err, gzip.ErrChecksum)
		assertNothingLeft(t, base)
	})
	t.Run("data after the archive", func(t *testing.T) {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		require.NoError(t, tw.Close())
		_, err := gz.Write(make([]byte, 2<<20))
		require.NoError(t, err)
		require.NoError(t, gz.Close())

		base, _, _, err := extract(t, buf.Bytes(), safearchive.Options{})
		require.ErrorContains(t, err, "after the end of the tar archive")
		assertNothingLeft(t, base)
	})
}

func TestExtractTarGzEmptyDestination(t *testing.T) {
	_, err := safearchive.ExtractTarGz(bytes.NewReader(tarGz(t)), "", safearchive.Options{})
	require.ErrorContains(t, err, "empty destination path")
}
