// Command gen writes the raw seed inputs kept in testdata/fuzz/FuzzExtractTarGz (tar streams,
// gzipped by the fuzz test) and testdata/fuzz/FuzzOpenZip (ZIP archives): hostile shapes the
// fixtures and the fuzz tests' own seeds do not build. Output is deterministic; regenerate
// with `go run ./testdata/fuzz/gen` from the repository root (testdata/fuzz/README.md).
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var mod = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

type member struct {
	hdr  tar.Header
	body string
}

func reg(name, body string, mode int64) member {
	return member{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func tarOf(format tar.Format, ms ...member) []byte {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, m := range ms {
		h := m.hdr
		h.ModTime, h.Format = mod, format
		if err := w.WriteHeader(&h); err != nil {
			panic(fmt.Sprintf("%s: %v", h.Name, err))
		}
		if _, err := w.Write([]byte(m.body)); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func tars() map[string][]byte {
	long := strings.Repeat("x", 120)
	nested := make([]member, 0, 70)
	for i, p := 0, ""; i < 70; i++ {
		p += fmt.Sprintf("d%d/", i)
		nested = append(nested, member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: 0o755}})
	}
	return map[string][]byte{
		// A long name travels in a PAX record: the header's own name field says something else.
		"pax-long-name-dotdot.tar": tarOf(tar.FormatPAX, reg("ok", "x", 0o644), reg("../"+long, "escape", 0o644)),
		// The same through GNU's ././@LongLink entry.
		"gnu-long-name-dotdot.tar": tarOf(tar.FormatGNU, reg("ok", "x", 0o644), reg("a/../../"+long, "escape", 0o644)),
		"hardlink-to-dir.tar": tarOf(tar.FormatPAX, member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o755}},
			member{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "h", Linkname: "d", Mode: 0o644}}),
		"symlink-loop-then-write.tar": tarOf(tar.FormatPAX, member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a", Linkname: "b", Mode: 0o777}},
			member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "b", Linkname: "a", Mode: 0o777}}, reg("a/x", "through the loop", 0o644)),
		"locked-dir-filled-later.tar": tarOf(tar.FormatPAX, member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "locked/", Mode: 0}},
			reg("locked/f", "written before the mode is applied", 0o400), member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o700}}),
		"setuid-sticky.tar": tarOf(tar.FormatUSTAR, member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}},
			reg("tmp/su", "#!/bin/sh\n", 0o6755)),
		"too-many-dirs.tar":         tarOf(tar.FormatPAX, nested...),
		"symlink-dotdot-inside.tar": tarOf(tar.FormatPAX, member{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "a/b/", Mode: 0o755}}, member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a/b/up", Linkname: "../../", Mode: 0o777}}, member{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "a/b/out", Linkname: "../../../", Mode: 0o777}}),
	}
}

func zipOf(comment string, files ...[2]string) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f[0], Method: zip.Deflate, Modified: mod}
		if strings.HasSuffix(f[0], "/") {
			h.SetMode(0o755 | os.ModeDir)
		} else {
			h.SetMode(0o644)
		}
		fw, err := w.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		if _, err := fw.Write([]byte(f[1])); err != nil {
			panic(err)
		}
	}
	if comment != "" {
		if err := w.SetComment(comment); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// overlapping is a one-file archive whose central directory lists the file's local header a
// second time under another name: two entries sharing one compressed stream, the kernel of
// the overlapping-files bomb.
func overlapping() []byte {
	b := zipOf("", [2]string{"a.json", strings.Repeat(`{"k":1}`, 200)})
	eocd := bytes.LastIndex(b, []byte("PK\x05\x06"))
	cdOff := binary.LittleEndian.Uint32(b[eocd+16:])
	cd := append([]byte(nil), b[cdOff:eocd]...)
	dup := append([]byte(nil), cd...)
	copy(dup[46:], "b.json") // same length as a.json
	out := append(append(append([]byte(nil), b[:cdOff]...), cd...), dup...)
	end := append([]byte(nil), b[eocd:]...)
	binary.LittleEndian.PutUint16(end[8:], 2)
	binary.LittleEndian.PutUint16(end[10:], 2)
	binary.LittleEndian.PutUint32(end[12:], uint32(len(cd)+len(dup)))
	return append(out, end...)
}

func zips() map[string][]byte {
	return map[string][]byte{
		"overlapping-entries.zip": overlapping(),
		"dir-with-content.zip":    bytes.ReplaceAll(zipOf("", [2]string{"dd", "content"}), []byte("dd"), []byte("d/")),
		"nul-in-name.zip":         zipOf("", [2]string{"a\x00b.json", "{}"}),
		"comment.zip":             zipOf("a comment that ends the archive", [2]string{"info.json", `{"a":1}`}),
		"case-twins.zip":          zipOf("", [2]string{"Info.json", "{}"}, [2]string{"info.json", "{}"}),
		"dot-segment.zip":         zipOf("", [2]string{"./info.json", "{}"}),
		"empty.zip":               zipOf(""),
	}
}

func main() {
	for dir, files := range map[string]map[string][]byte{"FuzzExtractTarGz": tars(), "FuzzOpenZip": zips()} {
		out := filepath.Join("testdata", "fuzz", dir)
		if err := os.MkdirAll(out, 0o755); err != nil {
			panic(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
				panic(err)
			}
		}
	}
}
