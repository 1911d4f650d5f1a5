package safearchive

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type zipFile struct {
	name   string
	body   []byte
	mode   fs.FileMode // 0 = regular 0644 (or a directory if name ends in /)
	method uint16      // 0 = deflate
}

func buildZip(t *testing.T, files ...zipFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		if f.method != 0 {
			h.Method = f.method
		}
		switch {
		case f.mode != 0:
			h.SetMode(f.mode)
		case strings.HasSuffix(f.name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		require.NoError(t, err)
		_, err = fw.Write(f.body)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func writeZip(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.zip")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

func openZipBytes(t *testing.T, b []byte, l ZipLimits) (*ZipArchive, error) {
	t.Helper()
	a, err := OpenZip(writeZip(t, b), l)
	if a != nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, err
}

func requireZipProblem(t *testing.T, err error, p ZipProblem, entry string) *ZipError {
	t.Helper()
	var ze *ZipError
	require.True(t, errors.As(err, &ze), "want a *ZipError, got %v", err)
	assert.Equal(t, p, ze.Problem, "%v", err)
	assert.Equal(t, entry, ze.Entry, "%v", err)
	return ze
}

func TestOpenZipReadsAGoodArchive(t *testing.T) {
	b := buildZip(t,
		zipFile{name: "metadata.json", body: []byte(`{"files":[]}`)},
		zipFile{name: "taskData/", body: nil},
		zipFile{name: "taskData/steps.json", body: []byte(`[1,2]`), method: zip.Store},
		zipFile{name: "empty.json", body: nil},
	)
	a, err := openZipBytes(t, b, ZipLimits{})
	require.NoError(t, err)
	var names []string
	for _, e := range a.Entries() {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"metadata.json", "taskData/", "taskData/steps.json", "empty.json"}, names)
	assert.True(t, a.Has("metadata.json"))
	assert.False(t, a.Has("taskData/"), "a directory is not a file")
	assert.False(t, a.Has("nope.json"))
	got, err := a.ReadFile("taskData/steps.json")
	require.NoError(t, err)
	assert.Equal(t, "[1,2]", string(got))
	got, err = a.ReadFile("empty.json")
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = a.ReadFile("nope.json")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestOpenZipRefusesNamesLeavingTheArchive(t *testing.T) {
	for _, name := range []string{"../evil.json", "a/../../evil.json", "/etc/passwd", `..\evil.json`, `a\b.json`,
		"C:/evil.json", "c:evil.json", "./a.json", "a//b.json", "a\x00b.json", "a\nb.json", "/"} {
		t.Run(name, func(t *testing.T) {
			body := []byte("{}")
			if strings.HasSuffix(name, "/") {
				body = nil
			}
			b := buildZip(t, zipFile{name: "ok.json", body: []byte("{}")}, zipFile{name: name, body: body})
			_, err := openZipBytes(t, b, ZipLimits{})
			requireZipProblem(t, err, ZipUnsafeName, name)
		})
	}
}

func TestOpenZipRefusesLinksAndSpecialFiles(t *testing.T) {
	b := buildZip(t, zipFile{name: "link.json", body: []byte("/etc/passwd"), mode: fs.ModeSymlink | 0o777})
	_, err := openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipLink, "link.json")

	b = buildZip(t, zipFile{name: "fifo", mode: fs.ModeNamedPipe | 0o644})
	_, err = openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipLink, "fifo")
}

func TestOpenZipRefusesDuplicateNames(t *testing.T) {
	b := buildZip(t, zipFile{name: "taskData.json", body: []byte("{}")}, zipFile{name: "taskData.json", body: []byte(`{"x":1}`)})
	_, err := openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipDuplicate, "taskData.json")

	b = buildZip(t, zipFile{name: "taskData", body: []byte("{}")}, zipFile{name: "taskData/"})
	_, err = openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipDuplicate, "taskData/")
}

func TestOpenZipRefusesTruncatedAndCorruptArchives(t *testing.T) {
	good := buildZip(t, zipFile{name: "a.json", body: bytes.Repeat([]byte(`{"k":"v"},`), 1000)})
	for _, n := range []int{0, 10, len(good) / 2, len(good) - 1} {
		_, err := openZipBytes(t, good[:n], ZipLimits{})
		requireZipProblem(t, err, ZipMalformed, "")
	}
	_, err := openZipBytes(t, []byte("this is not a zip file at all, just text"), ZipLimits{})
	requireZipProblem(t, err, ZipMalformed, "")

	// Flip a byte of the compressed data: the central directory is intact, the content is not.
	bad := bytes.Clone(good)
	off := 30 + len("a.json") + 5
	bad[off] ^= 0xff
	_, err = openZipBytes(t, bad, ZipLimits{})
	requireZipProblem(t, err, ZipMalformed, "a.json")
}

// The central directory declares a small size; inflating finds more: refused while inflating.
func TestOpenZipDoesNotTrustDeclaredSizes(t *testing.T) {
	b := buildZip(t, zipFile{name: "a.json", body: bytes.Repeat([]byte("0"), 100_000)})
	cd := centralHeaders(t, b)
	require.Len(t, cd, 1)
	binary.LittleEndian.PutUint32(b[cd[0]+24:], 10) // uncompressed size
	_, err := openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipMalformed, "a.json")
}

func TestOpenZipRefusesBombs(t *testing.T) {
	zeros := bytes.Repeat([]byte{0}, 8<<20)
	t.Run("ratio", func(t *testing.T) {
		b := buildZip(t, zipFile{name: "bomb.json", body: zeros})
		_, err := openZipBytes(t, b, ZipLimits{MaxRatio: 100})
		ze := requireZipProblem(t, err, ZipTooLarge, "bomb.json")
		assert.Contains(t, ze.Reason, "more than 100 times")
	})
	t.Run("total, declared", func(t *testing.T) {
		b := buildZip(t, zipFile{name: "a.json", body: zeros}, zipFile{name: "b.json", body: zeros})
		_, err := openZipBytes(t, b, ZipLimits{MaxBytes: 10 << 20, MaxRatio: 100_000})
		requireZipProblem(t, err, ZipTooLarge, "b.json")
	})
	t.Run("total, declared huge", func(t *testing.T) {
		b := buildZip(t, zipFile{name: "a.json", body: []byte("{}")})
		cd := centralHeaders(t, b)
		binary.LittleEndian.PutUint32(b[cd[0]+24:], 0xfffffffe) // declares 4 GiB
		_, err := openZipBytes(t, b, ZipLimits{})
		requireZipProblem(t, err, ZipTooLarge, "a.json")
	})
	t.Run("total, lying header", func(t *testing.T) {
		b := buildZip(t, zipFile{name: "a.json", body: zeros})
		cd := centralHeaders(t, b)
		binary.LittleEndian.PutUint32(b[cd[0]+24:], 1000) // declares 1000 bytes
		_, err := openZipBytes(t, b, ZipLimits{MaxBytes: 1 << 20, MaxRatio: 100_000})
		ze := requireZipProblem(t, err, ZipMalformed, "a.json")
		assert.NotContains(t, ze.Reason, "8388608", "stopped long before the real size")
	})
	t.Run("entries", func(t *testing.T) {
		var files []zipFile
		for i := range 11 {
			files = append(files, zipFile{name: strings.Repeat("x", i+1) + ".json", body: []byte("{}")})
		}
		_, err := openZipBytes(t, buildZip(t, files...), ZipLimits{MaxEntries: 10})
		requireZipProblem(t, err, ZipTooLarge, "")
	})
	t.Run("overlapping entries", func(t *testing.T) {
		b := buildZip(t, zipFile{name: "a.json", body: zeros[:1<<20]}, zipFile{name: "b.json", body: zeros[:1<<20]})
		cd := centralHeaders(t, b)
		require.Len(t, cd, 2)
		binary.LittleEndian.PutUint32(b[cd[1]+42:], binary.LittleEndian.Uint32(b[cd[0]+42:])) // b's data is a's
		_, err := openZipBytes(t, b, ZipLimits{})
		ze := requireZipProblem(t, err, ZipTooLarge, "b.json")
		assert.Contains(t, ze.Reason, "overlaps")
	})
}

func TestOpenZipRefusesEncryptedAndUnknownMethods(t *testing.T) {
	b := buildZip(t, zipFile{name: "a.json", body: []byte("{}"), method: zip.Store})
	cd := centralHeaders(t, b)
	b[cd[0]+8] |= 0x1 // general purpose flag: encrypted
	_, err := openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipMalformed, "a.json")

	b = buildZip(t, zipFile{name: "a.json", body: []byte("{}"), method: zip.Store})
	cd = centralHeaders(t, b)
	binary.LittleEndian.PutUint16(b[cd[0]+10:], 12) // bzip2
	_, err = openZipBytes(t, b, ZipLimits{})
	requireZipProblem(t, err, ZipMalformed, "a.json")
}

func TestOpenZipNamesAMissingFile(t *testing.T) {
	_, err := OpenZip(filepath.Join(t.TempDir(), "absent.zip"), ZipLimits{})
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var ze *ZipError
	assert.False(t, errors.As(err, &ze), "a missing file is not the archive's fault")
}

// centralHeaders finds the offsets of the central directory file headers.
func centralHeaders(t *testing.T, b []byte) []int {
	t.Helper()
	var out []int
	sig := []byte{0x50, 0x4b, 0x01, 0x02}
	for i := 0; ; {
		j := bytes.Index(b[i:], sig)
		if j < 0 {
			return out
		}
		out = append(out, i+j)
		i += j + 4
	}
}
