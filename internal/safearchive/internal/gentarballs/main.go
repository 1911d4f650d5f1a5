// Command gentarballs writes the tarball fixtures in testdata/tarballs that prove
// safearchive refuses hostile and broken release archives. Output is deterministic, so
// regenerating leaves the committed files unchanged unless this program changes.
//
//	go run ./internal/safearchive/internal/gentarballs -out testdata/tarballs
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// modTime is fixed so that every run produces byte-identical archives.
var modTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

const serviceScript = "#!/bin/sh\nexec echo \"opsflow test service $(cat \"$(dirname \"$0\")/../VERSION\")\"\n"

// entry is one tar member; body is the content of regular files.
type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}

func dir(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func special(name string, typ byte) entry {
	return entry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o666, Devmajor: 1, Devminor: 3}}
}

// gitCommit mimics the pax global header git archive writes, which extraction must skip.
func gitCommit() entry {
	return entry{hdr: tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		Name:       "pax_global_header",
		PAXRecords: map[string]string{"comment": "0123456789abcdef0123456789abcdef01234567"},
	}}
}

// ok is the harmless entry each hostile archive starts with, so tests can check that
// entries accepted before the refusal were cleaned up as well.
var ok = file("ok.txt", "accepted before the bad entry\n", 0o644)

var good = []entry{
	gitCommit(),
	file("VERSION", "v1.0.0-rel\n", 0o644),
	dir("bin/"),
	file("bin/service", serviceScript, 0o755),
	symlink("current", "bin"),
}

var hostile = map[string][]entry{
	"dotdot.tar.gz":             {ok, file("../escape.txt", "escaped\n", 0o644)},
	"nested-dotdot.tar.gz":      {dir("a/"), file("a/ok.txt", "fine\n", 0o644), file("a/../../escape.txt", "escaped\n", 0o644)},
	"absolute.tar.gz":           {ok, file("/tmp/opsflow-absolute.txt", "escaped\n", 0o644)},
	"symlink-escape.tar.gz":     {ok, symlink("evil", "../../etc")},
	"symlink-absolute.tar.gz":   {ok, symlink("evil", "/etc/passwd")},
	"symlink-parent.tar.gz":     {ok, symlink("d", "."), symlink("up", "..")},
	"symlink-chain.tar.gz":      {dir("sub/"), symlink("sub/back", ".."), symlink("esc", "sub/back/..")},
	"symlink-then-write.tar.gz": {dir("sub/"), file("sub/ok.txt", "fine\n", 0o644), symlink("link", "sub"), file("link/file", "through the link\n", 0o644)},
	"hardlink-escape.tar.gz":    {ok, hardlink("passwd", "/etc/passwd")},
	"device.tar.gz":             {ok, special("null", tar.TypeChar)},
	"fifo.tar.gz":               {ok, special("pipe", tar.TypeFifo)},
}

func main() {
	out := flag.String("out", "testdata/tarballs", "directory to write the fixtures to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gentarballs:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	goodData, err := tarGz(good)
	if err != nil {
		return fmt.Errorf("good.tar.gz: %w", err)
	}
	files := map[string][]byte{
		"good.tar.gz":      goodData,
		"truncated.tar.gz": goodData[:len(goodData)/2],
		"not-gzip.tar.gz":  []byte("this is a plain text file, not a gzip stream\n"),
	}
	for name, entries := range hostile {
		if files[name], err = tarGz(entries); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func tarGz(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag != tar.TypeXGlobalHeader {
			hdr.ModTime = modTime
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
