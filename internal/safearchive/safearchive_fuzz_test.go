package safearchive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/safearchive"
)

// Fuzz limits: small, so that the fuzzer reaches them.
var (
	fuzzTarOpts     = safearchive.Options{MaxFiles: 64, MaxBytes: 1 << 20}
	fuzzEntriesOpts = safearchive.Options{MaxFiles: 12, MaxBytes: 512}
)

// FuzzExtractTarGz extracts arbitrary tar streams (gzipped by the test unless raw, so that
// the fuzzer explores tar headers rather than gzip checksums) and checks the extraction
// against the archive itself: see checkTarExtraction.
func FuzzExtractTarGz(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join(fixtures, "*.tar.gz"))
	require.NoError(f, err)
	require.NotEmpty(f, fixtures)
	for _, p := range fixtures {
		gz, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(gz, true)
		if raw, err := gunzip(gz); err == nil {
			f.Add(raw, false)
		}
	}
	for _, spec := range hostileEntrySpecs {
		if tb, ok := buildTar(spec); ok {
			f.Add(tb, false)
		}
	}
	for _, b := range fuzzSeedFiles(f, "FuzzExtractTarGz") {
		f.Add(b, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		stream := data
		if !raw {
			stream = gzipBytes(data)
		}
		checkTarExtraction(t, stream, fuzzTarOpts)
	})
}

// FuzzExtractTarEntries builds well-formed tar streams from a line-based description of
// their entries (see buildTar), so that the fuzzer spends its time on names, link targets,
// types and modes, and checks the extraction as FuzzExtractTarGz does.
func FuzzExtractTarEntries(f *testing.F) {
	for _, spec := range hostileEntrySpecs {
		f.Add(spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tb, ok := buildTar(spec)
		if !ok {
			return // archive/tar cannot write it: not an archive anyone can send
		}
		checkTarExtraction(t, gzipBytes(tb), fuzzEntriesOpts)
	})
}

// hostileEntrySpecs describe the fixtures' archives and more, one entry a line:
// type|name|linkname|octal mode|content, type one of f d l h c b p (or any other byte,
// used as the tar type flag itself).
var hostileEntrySpecs = []string{
	"f|VERSION||644|v1.0.0-rel\nd|bin/||755|\nf|bin/service||4755|#!/bin/sh\nl|current|bin||",
	"f|ok||644|x\nf|../escape.txt||644|x",
	"d|a||755|\nf|a/../../escape.txt||644|x",
	"f|/tmp/opsflow-absolute.txt||644|x",
	"l|evil|../../etc||",
	"l|evil|/etc/passwd||",
	"l|d|.||\nl|up|..||",
	"d|sub||755|\nl|sub/back|..||\nl|esc|sub/back/..||",
	"d|sub||755|\nl|link|sub||\nf|link/file||644|x",
	"h|passwd|/etc/passwd||",
	"f|a||600|secret\nh|b|a||\nh|c|b||",
	"l|s|a||\nh|b|s||",
	"c|null||666|",
	"p|pipe||666|",
	"d|ro||500|\nf|ro/f||644|x\nd|ro||0|",
	"f|a||644|1\nf|a||644|2",
	"d|x||755|\nf|x||644|y",
	"f|x||644|y\nf|x/z||644|y",
	"d|./||755|\nf|./a||644|b\nf|a/||644|",
	"f|a\\b||644|x",
	"l|a/b/c|../../d||\nl|a/e|../../../x||",
	"f|big||644|" + strings.Repeat("z", 600),
	"f|1||644|\nf|2||644|\nf|3||644|\nf|4||644|\nf|5||644|\nf|6||644|\nf|7||644|\nf|8||644|\nf|9||644|\nf|10||644|\nf|11||644|\nf|12||644|\nf|13||644|",
	"x|g|||",
}

// buildTar writes the tar stream of spec (see hostileEntrySpecs); false when archive/tar
// refuses a header.
func buildTar(spec string) ([]byte, bool) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for line := range strings.SplitSeq(spec, "\n") {
		parts := strings.SplitN(line, "|", 5)
		for len(parts) < 5 {
			parts = append(parts, "")
		}
		if parts[0] == "" {
			continue
		}
		hdr := &tar.Header{Name: parts[1], Linkname: parts[2], Mode: 0o644, Format: tar.FormatPAX}
		if m, err := strconv.ParseInt(parts[3], 8, 64); err == nil {
			hdr.Mode = m
		}
		switch parts[0] {
		case "f":
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(parts[4]))
		case "d":
			hdr.Typeflag = tar.TypeDir
		case "l":
			hdr.Typeflag = tar.TypeSymlink
		case "h":
			hdr.Typeflag = tar.TypeLink
		case "c", "b":
			hdr.Typeflag, hdr.Devmajor, hdr.Devminor = map[string]byte{"c": tar.TypeChar, "b": tar.TypeBlock}[parts[0]], 1, 3
		case "p":
			hdr.Typeflag = tar.TypeFifo
		default:
			hdr.Typeflag = parts[0][0]
			if hdr.Typeflag == tar.TypeXGlobalHeader || hdr.Typeflag == tar.TypeXHeader || hdr.Typeflag == tar.TypeGNULongName ||
				hdr.Typeflag == tar.TypeGNULongLink || hdr.Typeflag == tar.TypeGNUSparse {
				hdr.Typeflag = tar.TypeReg // tar.Writer writes these itself or refuses them
			}
			hdr.Size = int64(len(parts[4]))
		}
		if err := w.WriteHeader(hdr); err != nil {
			return nil, false
		}
		if hdr.Size > 0 {
			if _, err := io.WriteString(w, parts[4]); err != nil {
				return nil, false
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// checkTarExtraction extracts stream into a fresh destination and checks what only a safe
// extractor does: on error nothing is left at all (no destination, no ".partial-*", nothing
// beside them) and a refused entry is one the archive holds; on success nothing lies
// outside the destination, no symlink resolves outside it (following chains on disk), there
// are no special files or setuid/setgid/sticky bits, the Stats add up, the total size is
// within opts, and the tree is exactly the archive's (each file's content and mode, each
// symlink's target, each hard link the same file as its target, each listed directory's
// mode, implied directories 0755).
func checkTarExtraction(t *testing.T, stream []byte, opts safearchive.Options) {
	base, dest := newDest(t)
	stats, err := safearchive.ExtractTarGz(bytes.NewReader(stream), dest, opts)
	hdrs, bodies, readErr := readTarGz(stream)
	if err != nil {
		assertNothingLeft(t, base)
		var ue *safearchive.UnsafeEntryError
		if errors.As(err, &ue) {
			found := false
			for _, h := range hdrs {
				found = found || h.Name == ue.Entry
			}
			require.True(t, found, "refused entry %q is not among the archive's entries: %v", ue.Entry, err)
		}
		return
	}
	require.NoError(t, readErr, "the extraction succeeded, reading the archive again must too")
	tree := walkTree(t, base)
	for rel := range tree {
		require.True(t, rel == "." || rel == "work" || rel == "work/release" || strings.HasPrefix(rel, "work/release/"),
			"%s was written outside the destination", rel)
	}
	disk := map[string]treeEntry{}
	for rel, e := range tree {
		if r, ok := strings.CutPrefix(rel, "work/release/"); ok {
			disk[r] = e
		}
	}
	var files, symlinks, dirs int
	var bytesOnDisk int64
	inodes := map[uint64]bool{}
	for rel, e := range disk {
		require.Zero(t, e.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), "%s has mode %s", rel, e.mode)
		switch {
		case e.mode.IsRegular():
			files++
			if !inodes[e.ino] {
				inodes[e.ino] = true
				bytesOnDisk += e.size
			}
		case e.mode.IsDir():
			dirs++
		case e.mode&fs.ModeSymlink != 0:
			symlinks++
			require.False(t, resolvesOutside(dest, rel), "symlink %s -> %s resolves outside the destination", rel, e.link)
		default:
			require.Failf(t, "special file extracted", "%s has mode %s", rel, e.mode)
		}
	}
	require.Equal(t, safearchive.Stats{Files: files, Dirs: dirs, Symlinks: symlinks, Bytes: bytesOnDisk}, stats)
	require.LessOrEqual(t, stats.Bytes, opts.MaxBytes)
	require.LessOrEqual(t, len(hdrs), opts.MaxFiles)

	want := map[string]bool{}
	dirModes := map[string]fs.FileMode{}
	for i, h := range hdrs {
		name := path.Clean(h.Name)
		for p := path.Dir(name); p != "."; p = path.Dir(p) {
			want[p] = true
		}
		if name == "." {
			dirModes["."] = fs.FileMode(h.Mode) & fs.ModePerm // "./" listed: the destination's mode
			continue
		}
		want[name] = true
		e, ok := disk[name]
		require.True(t, ok, "entry %q was not extracted", h.Name)
		switch h.Typeflag {
		case tar.TypeReg:
			require.True(t, e.mode.IsRegular(), "%s: %s", name, e.mode)
			require.Equal(t, fs.FileMode(h.Mode)&fs.ModePerm, e.mode.Perm(), name)
			require.Equal(t, bodies[i], e.content, name)
		case tar.TypeLink:
			target, ok := disk[path.Clean(h.Linkname)]
			require.True(t, ok && e.mode.IsRegular() && e.ino == target.ino, "hard link %s is not %s", name, h.Linkname)
		case tar.TypeSymlink:
			require.Equal(t, h.Linkname, e.link, name)
		case tar.TypeDir:
			require.True(t, e.mode.IsDir(), name)
			dirModes[name] = fs.FileMode(h.Mode) & fs.ModePerm
		default:
			require.Failf(t, "unexpected entry type accepted", "%s has type %q", name, h.Typeflag)
		}
	}
	rootMode, listed := dirModes["."]
	if !listed {
		rootMode = 0o755
	}
	require.Equal(t, rootMode, tree["work/release"].mode.Perm(), "the destination's mode")
	for rel, e := range disk {
		require.True(t, want[rel], "%s is on disk but not in the archive", rel)
		if e.mode.IsDir() {
			m, listed := dirModes[rel]
			if !listed {
				m = 0o755
			}
			require.Equal(t, m, e.mode.Perm(), "mode of directory %s", rel)
		}
	}
}

// readTarGz reads the headers and regular files' contents of a gzipped tar stream as
// archive/tar sees them (global headers left out), up to the first error.
func readTarGz(stream []byte) ([]*tar.Header, [][]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, nil, err
	}
	tr := tar.NewReader(gz)
	var hdrs []*tar.Header
	var bodies [][]byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, bodies, nil
		}
		if err != nil {
			return hdrs, bodies, err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		body, err := io.ReadAll(io.LimitReader(tr, 4<<20))
		hdrs, bodies = append(hdrs, h), append(bodies, body)
		if err != nil {
			return hdrs, bodies, err
		}
	}
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
