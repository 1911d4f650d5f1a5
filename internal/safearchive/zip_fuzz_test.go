package safearchive_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/safearchive"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
)

// fuzzZipLimits are small, so that the fuzzer reaches them and each run inflates little
// (the ratio rule, which bites past 1 MiB only, is left to the unit tests).
var fuzzZipLimits = safearchive.ZipLimits{MaxEntries: 32, MaxBytes: 256 << 10}

// FuzzOpenZip opens arbitrary bytes as a ZIP archive. A refusal is always a *ZipError (the
// file itself is readable); an accepted archive holds at most MaxEntries entries of
// relative, canonical, local, unique names without control characters, inflating to at most
// MaxBytes in total, each file readable with exactly its verified size and the content
// archive/zip gives for it, and Has agreeing with Entries.
func FuzzOpenZip(f *testing.F) {
	spec := bridgedata.Spec{RecordID: "fuzzRecord01", Steps: 1, MotionSamples: 2}
	for _, a := range []bridgedata.Archive{bridgedata.Good(spec), bridgedata.ZipSlip(spec), bridgedata.Truncated(spec),
		bridgedata.Bomb(spec, 300<<10), bridgedata.MalformedJSON(spec)} {
		f.Add(a.Zip)
	}
	for _, entries := range [][]zipSeed{
		{{name: "metadata.json", body: `{"files":[]}`}, {name: "taskData/"}, {name: "taskData/steps.json", body: "[1,2]", store: true}},
		{{name: "../../etc/cron.d/evil.json", body: "{}"}},
		{{name: "/abs.json", body: "{}"}},
		{{name: `C:\x.json`, body: "{}"}},
		{{name: "a/./b.json", body: "{}"}},
		{{name: "a.json", body: "1"}, {name: "a.json", body: "2"}},
		{{name: "d/", body: ""}, {name: "d", body: "x"}},
		{{name: "link", body: "../etc/passwd", mode: fs.ModeSymlink | 0o777}},
		{{name: "fifo", mode: fs.ModeNamedPipe | 0o644}},
		{{name: "big.json", body: strings.Repeat(" ", 300<<10)}},
		{{name: "ctl\x01.json", body: "{}"}},
	} {
		f.Add(buildZipSeed(f, entries))
	}
	for _, b := range fuzzSeedFiles(f, "FuzzOpenZip") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "a.zip")
		require.NoError(t, os.WriteFile(p, data, 0o600))
		a, err := safearchive.OpenZip(p, fuzzZipLimits)
		if err != nil {
			var ze *safearchive.ZipError
			require.True(t, errors.As(err, &ze), "a refusal must be a *ZipError, got %T: %v", err, err)
			require.NotEmpty(t, ze.Problem, "%v", err)
			return
		}
		defer a.Close()
		checkAcceptedZip(t, a, data)
	})
}

func checkAcceptedZip(t *testing.T, a *safearchive.ZipArchive, data []byte) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err, "OpenZip accepted what archive/zip cannot read")
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		byName[f.Name] = f
	}
	entries := a.Entries()
	require.LessOrEqual(t, len(entries), fuzzZipLimits.MaxEntries)
	require.Len(t, entries, len(zr.File))
	seen := map[string]bool{}
	var total int64
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name, "/")
		require.Equal(t, e.Dir, strings.HasSuffix(e.Name, "/"), e.Name)
		require.True(t, filepath.IsLocal(name) && !path.IsAbs(name), "%q is not a local name", e.Name)
		require.Equal(t, path.Clean(name), name, "%q is not canonical", e.Name)
		require.False(t, strings.ContainsAny(e.Name, "\\\x00") || strings.IndexFunc(e.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0,
			"%q holds a backslash or a control character", e.Name)
		for elem := range strings.SplitSeq(name, "/") {
			require.NotContains(t, []string{"", ".", ".."}, elem, e.Name)
		}
		require.False(t, seen[name], "%q is listed twice", e.Name)
		seen[name] = true
		require.Equal(t, !e.Dir, a.Has(name), e.Name)
		if e.Dir {
			require.Zero(t, e.Size, e.Name)
			continue
		}
		got, err := a.ReadFile(name)
		require.NoError(t, err, e.Name)
		require.Len(t, got, int(e.Size), e.Name)
		total += e.Size
		zf := byName[e.Name]
		require.NotNil(t, zf, e.Name)
		require.True(t, zf.Mode().IsRegular(), "%q has mode %s", e.Name, zf.Mode())
		rc, err := zf.Open()
		require.NoError(t, err, e.Name)
		want, err := io.ReadAll(io.LimitReader(rc, fuzzZipLimits.MaxBytes+1))
		rc.Close()
		require.NoError(t, err, e.Name)
		require.Equal(t, want, got, e.Name)
	}
	require.LessOrEqual(t, total, fuzzZipLimits.MaxBytes)
}

type zipSeed struct {
	name, body string
	mode       fs.FileMode
	store      bool
}

func buildZipSeed(f *testing.F, entries []zipSeed) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.store {
			h.Method = zip.Store
		}
		switch {
		case e.mode != 0:
			h.SetMode(e.mode)
		case strings.HasSuffix(e.name, "/"):
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		require.NoError(f, err)
		_, err = io.WriteString(fw, e.body)
		require.NoError(f, err)
	}
	require.NoError(f, w.Close())
	return buf.Bytes()
}
