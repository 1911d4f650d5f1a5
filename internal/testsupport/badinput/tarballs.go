package badinput

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"time"
)

// tarTop is the top directory of every corpus tarball, as a release artifact has one
// (tsd-import-<version>/). The version is never checked: every tarball is refused first.
const tarTop = "tsd-import-v9.9.9-rel/"

// epoch is the modification time of every generated entry, so the output is reproducible.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// goodPrefix is what a release artifact starts with: the top directory, VERSION, bin/ and an
// executable. Every hostile tarball puts its bad entry after these, so a refusal must also
// remove what was already extracted.
func goodPrefix() []*tar.Header {
	return []*tar.Header{
		{Typeflag: tar.TypeDir, Name: tarTop, Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: tarTop + "VERSION", Mode: 0o644},
		{Typeflag: tar.TypeDir, Name: tarTop + "bin/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: tarTop + "bin/service", Mode: 0o755},
	}
}

var goodBodies = map[string]string{
	tarTop + "VERSION":     "v9.9.9-rel\n",
	tarTop + "bin/service": "#!/bin/sh\nexec sleep 3600\n",
}

// tarGz writes the good prefix and then bad, gzip-compressed without compression (stored
// deflate blocks), so the bytes depend on no compressor's version.
func tarGz(bad ...*tar.Header) []byte {
	return gz(tarBytes(append(goodPrefix(), bad...)...))
}

func tarBytes(hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.ModTime, h.Format = epoch, tar.FormatGNU
		h.Uname, h.Gname = "root", "root"
		body := goodBodies[h.Name]
		if h.Typeflag == tar.TypeReg {
			if body == "" {
				body = "escaped\n"
			}
			h.Size = int64(len(body))
		}
		must(tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(body))
			must(err)
		}
	}
	must(tw.Close())
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	must(err)
	zw.ModTime = epoch
	_, err = zw.Write(b)
	must(err)
	must(zw.Close())
	return buf.Bytes()
}

// EscapeTargets are the paths outside any site a tarball of the corpus aims at with an
// absolute name; the test checks none exists after the release.
var EscapeTargets = []string{"/tmp/opsflow-badinput-absolute.txt"}

func tarballCases() []Case {
	reg := func(name string) *tar.Header { return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644} }
	link := func(typ byte, name, target string) *tar.Header {
		return &tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}
	}
	dev := func(typ byte, name string, major, minor int64) *tar.Header {
		return &tar.Header{Typeflag: typ, Name: name, Mode: 0o666, Devmajor: major, Devminor: minor}
	}
	good := tarGz()
	cases := []struct {
		file, bad string
		data      []byte
	}{
		{"dotdot.tar.gz", "`../badinput-escape-dotdot.txt`: a relative name that climbs out of the extraction directory",
			tarGz(reg("../badinput-escape-dotdot.txt"))},
		{"nested-dotdot.tar.gz", "`" + tarTop + "bin/../../../badinput-escape-nested.txt`: climbs out after real directories",
			tarGz(reg(tarTop + "bin/../../../badinput-escape-nested.txt"))},
		{"absolute.tar.gz", "`" + EscapeTargets[0] + "`: an absolute name",
			tarGz(reg(EscapeTargets[0]))},
		{"symlink-escape.tar.gz", "symlink `" + tarTop + "etc -> ../../../../../../etc`: points outside the target",
			tarGz(link(tar.TypeSymlink, tarTop+"etc", "../../../../../../etc"))},
		{"symlink-absolute.tar.gz", "symlink `" + tarTop + "passwd -> /etc/passwd`: an absolute target",
			tarGz(link(tar.TypeSymlink, tarTop+"passwd", "/etc/passwd"))},
		{"symlink-chain.tar.gz", "`up -> ..` (inside), then `esc -> up/..`: `..` after a symlink climbs out",
			tarGz(link(tar.TypeSymlink, tarTop+"up", ".."), link(tar.TypeSymlink, tarTop+"esc", "up/.."))},
		{"symlink-then-write.tar.gz", "`lnk -> bin` (inside), then the file `lnk/planted`: writing through a symlink",
			tarGz(link(tar.TypeSymlink, tarTop+"lnk", "bin"), reg(tarTop+"lnk/planted"))},
		{"hardlink-absolute.tar.gz", "hard link `" + tarTop + "shadow` to `/etc/shadow`",
			tarGz(link(tar.TypeLink, tarTop+"shadow", "/etc/shadow"))},
		{"hardlink-dotdot.tar.gz", "hard link `" + tarTop + "hostname` to `../../../../../../etc/hostname`",
			tarGz(link(tar.TypeLink, tarTop+"hostname", "../../../../../../etc/hostname"))},
		{"chardev.tar.gz", "character device `" + tarTop + "null` (1,3)",
			tarGz(dev(tar.TypeChar, tarTop+"null", 1, 3))},
		{"blockdev.tar.gz", "block device `" + tarTop + "sda` (8,0)",
			tarGz(dev(tar.TypeBlock, tarTop+"sda", 8, 0))},
		{"fifo.tar.gz", "FIFO `" + tarTop + "pipe`",
			tarGz(&tar.Header{Typeflag: tar.TypeFifo, Name: tarTop + "pipe", Mode: 0o644})},
		{"duplicate-entry.tar.gz", "`" + tarTop + "VERSION` twice: the second would replace the checked one",
			tarGz(reg(tarTop + "VERSION"))},
		{"truncated.tar.gz", "a good release artifact cut in the middle of its gzip stream",
			good[:len(good)/2]},
		{"not-gzip.tar.gz", "plain text named .tar.gz",
			[]byte("this is not a gzip stream, just text named like a release artifact\n")},
	}
	out := make([]Case, 0, len(cases))
	for _, c := range cases {
		out = append(out, Case{Path: "tarballs/" + c.file, Procedure: "ReleaseDeploy",
			Feed:   "stored as the release's artifact in the artifact bucket (`tsd-import/<v>/tsd-import-<v>.tar.gz`, its SHA-256 in the metadata), then `opsflow release --version <v> --sites <site> --force --wait`",
			Expect: "SiteDeployRolledBack", Cause: "UnsafeArchive", Bad: c.bad, files: map[string][]byte{"": c.data}})
	}
	return out
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
