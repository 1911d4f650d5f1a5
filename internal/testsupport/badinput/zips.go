package badinput

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"strings"

	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
)

// bridgeSpec is the record every corpus archive is built from (a Mobile Toolbox spelling
// assessment, revision 5, which testdata/bridge/mapping.json maps). The test uploads each
// archive with the S3 metadata of a record id of its own (bridgedata.Metadata).
var bridgeSpec = bridgedata.Spec{RecordID: "badinputCorpusRecord0001", Steps: 2, MotionSamples: 8}

type zipEntry struct {
	hdr  zip.FileHeader
	body []byte
	raw  bool // hdr is written as is (CreateRaw): sizes, CRC and method are the entry's claims
}

// goodEntries are the files of a valid archive of bridgeSpec, stored (no compression).
func goodEntries() []zipEntry {
	a := bridgedata.Good(bridgeSpec)
	out := make([]zipEntry, 0, len(a.Names))
	for _, name := range a.Names {
		out = append(out, stored(name, a.Files[name]))
	}
	return out
}

func stored(name string, body []byte) zipEntry {
	h := zip.FileHeader{Name: name, Method: zip.Store, Modified: epoch}
	h.SetMode(0o644)
	return zipEntry{hdr: h, body: body}
}

// replaced is the good archive with name's content replaced by body.
func replaced(name string, body []byte) []zipEntry {
	es := goodEntries()
	for i := range es {
		if es[i].hdr.Name == name {
			es[i] = stored(name, body)
		}
	}
	return es
}

func zipBytes(entries ...zipEntry) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		var fw io.Writer
		var err error
		if e.raw {
			fw, err = w.CreateRaw(&h)
		} else {
			fw, err = w.CreateHeader(&h)
		}
		must(err)
		_, err = fw.Write(e.body)
		must(err)
	}
	must(w.Close())
	return buf.Bytes()
}

// deflated is an entry compressed with deflate; used only for the bombs, whose point is a
// high ratio.
func deflated(name string, size int64, fill byte) zipEntry {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
	fw, err := w.CreateHeader(h)
	must(err)
	chunk := bytes.Repeat([]byte{fill}, 1<<16)
	crc := crc32.NewIEEE()
	for n := int64(0); n < size; n += int64(len(chunk)) {
		c := chunk[:min(int64(len(chunk)), size-n)]
		_, err = fw.Write(c)
		must(err)
		crc.Write(c)
	}
	must(w.Close())
	r, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	must(err)
	f := r.File[0]
	raw, err := f.OpenRaw()
	must(err)
	body, err := io.ReadAll(raw)
	must(err)
	out := zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch, CRC32: crc.Sum32(),
		CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(size)}
	out.SetMode(0o644)
	return zipEntry{hdr: out, body: body, raw: true}
}

// overlapping is the good archive plus an entry whose central-directory record points at the
// first entry's local header: two names sharing one compressed stream (a bomb building block).
func overlapping() []byte {
	es := goodEntries()
	es = append(es, stored("overlap.json", es[0].body))
	b := zipBytes(es...)
	// The last central-directory record (signature PK\x01\x02) is the added entry's: point
	// its local-header offset (at +42) at offset 0, the first entry's.
	i := bytes.LastIndex(b, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(b[i+42:], 0)
	return b
}

// deepJSON nests depth arrays around a number: deeper than encoding/json decodes (10000).
func deepJSON(depth int) []byte {
	return []byte(strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth))
}

func zipCases() []Case {
	good := zipBytes(goodEntries()...)
	withEntry := func(e zipEntry) []byte { return zipBytes(append(goodEntries(), e)...) }
	symlink := stored("taskData-link.json", []byte("/etc/passwd"))
	symlink.hdr.SetMode(fs.ModeSymlink | 0o777)
	encrypted := stored("secret.json", []byte(`{"x":1}`))
	encrypted.hdr.Flags |= 0x1
	method := stored("packed.json", []byte(`{"x":1}`))
	method.hdr.Method, method.raw = 99, true
	method.hdr.CRC32 = crc32.ChecksumIEEE(method.body)
	method.hdr.CompressedSize64, method.hdr.UncompressedSize64 = uint64(len(method.body)), uint64(len(method.body))
	badCRC := stored("crc.json", []byte(`{"x":1}`))
	badCRC.raw = true
	badCRC.hdr.CRC32 = 0xdeadbeef
	badCRC.hdr.CompressedSize64, badCRC.hdr.UncompressedSize64 = uint64(len(badCRC.body)), uint64(len(badCRC.body))
	sizeLie := stored("sizes.json", []byte(`{"padding":"`+strings.Repeat("x", 4000)+`"}`))
	sizeLie.raw = true
	sizeLie.hdr.CRC32 = crc32.ChecksumIEEE(sizeLie.body)
	sizeLie.hdr.CompressedSize64, sizeLie.hdr.UncompressedSize64 = uint64(len(sizeLie.body)), 10
	var many []zipEntry
	for i := range 1001 {
		many = append(many, stored(fmt.Sprintf("f%04d.json", i), []byte("{}")))
	}
	bomb := func(declared uint64) []byte {
		es := goodEntries()
		for i := range es {
			if es[i].hdr.Name == "taskData.json" {
				es[i] = deflated("taskData.json", 64<<20, ' ')
				if declared > 0 {
					es[i].hdr.UncompressedSize64 = declared
				}
			}
		}
		return zipBytes(es...)
	}

	type zc struct {
		file, expect, bad string
		data              []byte
	}
	cases := []zc{
		{"truncated.zip", "BridgeMalformedArchive", "a valid archive cut at 60%, as an interrupted upload leaves it", good[:len(good)*6/10]},
		{"not-a-zip.zip", "BridgeMalformedArchive", "plain text named .zip", []byte("PK? no: plain text named like an archive\n")},
		{"crc-mismatch.zip", "BridgeMalformedArchive", "an entry whose CRC-32 does not match its content", withEntry(badCRC)},
		{"size-lie.zip", "BridgeMalformedArchive", "an entry that declares 10 uncompressed bytes and holds 4 KB", withEntry(sizeLie)},
		{"encrypted.zip", "BridgeMalformedArchive", "an entry flagged as encrypted", withEntry(encrypted)},
		{"unsupported-method.zip", "BridgeMalformedArchive", "an entry with compression method 99", withEntry(method)},
		{"zip-slip.zip", "BridgeUnsafeArchive", "an entry named `../../etc/cron.d/evil.json`", withEntry(stored("../../etc/cron.d/evil.json", []byte(`{"x":1}`)))},
		{"absolute-name.zip", "BridgeUnsafeArchive", "an entry named `/etc/cron.d/evil.json`", withEntry(stored("/etc/cron.d/evil.json", []byte(`{"x":1}`)))},
		{"backslash-name.zip", "BridgeUnsafeArchive", `an entry named ` + "`..\\..\\evil.json`", withEntry(stored(`..\..\evil.json`, []byte(`{"x":1}`)))},
		{"drive-letter.zip", "BridgeUnsafeArchive", "an entry named `C:/evil.json`", withEntry(stored("C:/evil.json", []byte(`{"x":1}`)))},
		{"symlink-entry.zip", "BridgeUnsafeArchive", "a symbolic-link entry to `/etc/passwd`", withEntry(symlink)},
		{"duplicate-names.zip", "BridgeUnsafeArchive", "`taskData.json` twice", withEntry(stored("taskData.json", []byte(`{"x":1}`)))},
		{"bomb-ratio.zip", "BridgeArchiveTooLarge", "`taskData.json` inflates to 64 MiB of blanks from 64 KB (and says so)", bomb(0)},
		{"bomb-declared-small.zip", "BridgeMalformedArchive", "`taskData.json` declares 1 KiB and would inflate to 64 MiB of blanks (refused once it passes its declared size)", bomb(1024)},
		{"bomb-entries.zip", "BridgeArchiveTooLarge", "1001 entries, more than the 1000 allowed", zipBytes(many...)},
		{"bomb-overlap.zip", "BridgeArchiveTooLarge", "two entries sharing one compressed stream (overlapping entries)", overlapping()},
		{"json-malformed.zip", "BridgeMalformedJSON", "`taskData.json` cut in the middle of the document", func() []byte {
			b := bridgedata.Good(bridgeSpec).Files["taskData.json"]
			return zipBytes(replaced("taskData.json", b[:len(b)/2])...)
		}()},
		{"json-too-deep.zip", "BridgeMalformedJSON", "`taskData.json` nests 20 000 arrays", zipBytes(replaced("taskData.json", deepJSON(20000))...)},
		{"json-wrong-type.zip", "BridgeMalformedJSON", "`metadata.json` (dataset ArchiveMetadata) is a JSON string, not an object", zipBytes(replaced("metadata.json", []byte(`"metadata"`))...)},
		{"json-list-of-numbers.zip", "BridgeMalformedJSON", "`motion.json` (a list of records) is a list of numbers", zipBytes(replaced("motion.json", []byte(`[1,2,3]`))...)},
	}
	out := make([]Case, 0, len(cases))
	for _, c := range cases {
		out = append(out, Case{Path: "zips/" + c.file, Procedure: "BridgeArchiveToJSON",
			Feed:   "uploaded to the Bridge archive bucket with the S3 metadata of a fresh record id, notified on the SQS notification queue, then the `bridge-notifications` schedule triggered",
			Expect: c.expect, Bad: c.bad, files: map[string][]byte{"": c.data}})
	}
	return out
}
