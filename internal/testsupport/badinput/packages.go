package badinput

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opsflow/opsflow/internal/samplepkg"
)

// NameToken stands for the package name in the file names and contents of packages/: the test
// replaces it with a name of its own per run (workflow ids are keyed hashes of the name).
const NameToken = "@NAME@"

// ManifestFile and ObjectsDir are the parts of a packages/<case>/ directory: the manifest the
// nsc-exporter would have written (uploaded to manifests/samples/<name>.json) and the objects
// under samples/<name>/.
const (
	ManifestFile = "manifest.json"
	ObjectsDir   = "objects/"
)

const goodRead = "@r1\nACGTACGTAC\n+\nIIIIIIIIII\n"

func hexSum(b []byte, md bool) string {
	if md {
		s := md5.Sum(b)
		return hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sampleDoc is a .sample listing reads; the read paths never hold the package name, so a
// renamed package keeps its checksums.
func sampleDoc(reads ...samplepkg.Read) []byte {
	b, err := json.Marshal(samplepkg.SampleFile{Name: "sample", Reads: reads})
	must(err)
	return b
}

func goodSample() []byte {
	return sampleDoc(samplepkg.Read{Path: "R1.fastq", MD5: hexSum([]byte(goodRead), true), Size: int64(len(goodRead))})
}

// pkg is a package case: its objects by path, and a manifest computed from them unless
// manifest is set; edit changes the computed manifest.
type pkg struct {
	objects  map[string][]byte
	manifest []byte
	edit     func(*samplepkg.Manifest)
}

func (p pkg) files() map[string][]byte {
	if p.objects == nil {
		p.objects = map[string][]byte{"R1.fastq": []byte(goodRead), NameToken + ".sample": goodSample()}
	}
	out := map[string][]byte{}
	m := samplepkg.Manifest{Kind: samplepkg.KindSample, Package: NameToken}
	for path, body := range p.objects {
		out[ObjectsDir+path] = body
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: path, Size: int64(len(body)), SHA256: hexSum(body, false)})
	}
	if p.edit != nil {
		p.edit(&m)
	}
	if p.manifest == nil {
		var err error
		p.manifest, err = m.Encode()
		must(err)
	}
	out[ManifestFile] = p.manifest
	return out
}

func goodManifest() []byte {
	return pkg{}.files()[ManifestFile]
}

func fileIndex(m *samplepkg.Manifest, path string) int {
	for i, f := range m.Files {
		if f.Path == path {
			return i
		}
	}
	panic("no " + path)
}

func packageCases() []Case {
	sampleName := NameToken + ".sample"
	withSample := func(doc []byte) pkg {
		return pkg{objects: map[string][]byte{"R1.fastq": []byte(goodRead), sampleName: doc}}
	}
	gm := string(goodManifest())
	cases := []struct {
		dir, expect, bad string
		p                pkg
	}{
		{"wrong-checksum", "ChecksumMismatch", "the manifest's SHA-256 of R1.fastq is another file's (same size)", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files[fileIndex(m, "R1.fastq")].SHA256 = hexSum([]byte("@r1\nTTTTTTTTTT\n+\nIIIIIIIIII\n"), false)
		}}},
		{"missing-file", "ManifestMismatch", "the manifest lists R2.fastq, which was never uploaded", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files = append(m.Files, samplepkg.ManifestFile{Path: "R2.fastq", Size: 27, SHA256: hexSum([]byte(goodRead), false)})
		}}},
		{"extra-file", "ManifestMismatch", "an object R2.fastq the manifest does not list", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files = slices.DeleteFunc(m.Files, func(f samplepkg.ManifestFile) bool { return f.Path == "R2.fastq" })
		}, objects: map[string][]byte{"R1.fastq": []byte(goodRead), sampleName: goodSample(), "R2.fastq": []byte(goodRead)}}},
		{"wrong-size", "ManifestMismatch", "the manifest says R1.fastq is one byte longer than it is", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files[fileIndex(m, "R1.fastq")].Size++
		}}},
		{"manifest-malformed", "ManifestMismatch", "the manifest cut in the middle of its JSON", pkg{manifest: []byte(gm[:len(gm)/2])}},
		{"manifest-too-deep", "ManifestMismatch", "the manifest's files nest 20 000 arrays", pkg{manifest: []byte(
			`{"kind":"samples","package":"` + NameToken + `","files":` + string(deepJSON(20000)) + `}`)}},
		{"manifest-wrong-types", "ManifestMismatch", "sizes are strings and files an object", pkg{manifest: []byte(
			`{"kind":"samples","package":"` + NameToken + `","files":{"path":"R1.fastq","size":"27","sha256":"00"}}`)}},
		{"manifest-unknown-field", "ManifestMismatch", "a field the manifest format does not have (`owner`)", pkg{manifest: []byte(
			strings.Replace(gm, `"kind"`, `"owner": "root", "kind"`, 1))}},
		{"manifest-dotdot-path", "ManifestMismatch", "a manifest file `../R1.fastq`", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files[fileIndex(m, "R1.fastq")].Path = "../R1.fastq"
		}}},
		{"manifest-other-package", "ManifestMismatch", "the manifest describes another package", pkg{edit: func(m *samplepkg.Manifest) {
			m.Package = "Diag-someone-else"
		}}},
		{"manifest-negative-size", "ManifestMismatch", "a negative size", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files[fileIndex(m, "R1.fastq")].Size = -27
		}}},
		{"manifest-bad-sha256", "ManifestMismatch", "a SHA-256 that is not 64 hex digits (`$(reboot)`)", pkg{edit: func(m *samplepkg.Manifest) {
			m.Files[fileIndex(m, "R1.fastq")].SHA256 = "$(reboot)"
		}}},
		{"sample-malformed", "MalformedSampleFile", "the .sample cut in the middle of its JSON", withSample(goodSample()[:len(goodSample())/2])},
		{"sample-too-deep", "MalformedSampleFile", "the .sample's reads nest 20 000 arrays", withSample([]byte(`{"name":"sample","reads":` + string(deepJSON(20000)) + `}`))},
		{"sample-wrong-types", "MalformedSampleFile", "a read's size is a string", withSample([]byte(
			`{"name":"sample","reads":[{"path":"R1.fastq","md5":"` + hexSum([]byte(goodRead), true) + `","size":"27"}]}`))},
		{"sample-no-reads", "MalformedSampleFile", "the .sample lists no reads", withSample(sampleDoc())},
		{"sample-dotdot-read", "MalformedSampleFile", "a read `../../../etc/passwd`", withSample(sampleDoc(samplepkg.Read{Path: "../../../etc/passwd", MD5: hexSum([]byte(goodRead), true), Size: 27}))},
		{"sample-wrong-md5", "ChecksumMismatch", "the .sample's MD5 of R1.fastq is another file's", withSample(sampleDoc(samplepkg.Read{Path: "R1.fastq", MD5: hexSum([]byte("other"), true), Size: int64(len(goodRead))}))},
		{"sample-wrong-size", "ManifestMismatch", "the .sample says R1.fastq has 5 bytes", withSample(sampleDoc(samplepkg.Read{Path: "R1.fastq", MD5: hexSum([]byte(goodRead), true), Size: 5}))},
		{"sample-unlisted-read", "ManifestMismatch", "the .sample lists a read R2.fastq the package does not hold", withSample(sampleDoc(
			samplepkg.Read{Path: "R1.fastq", MD5: hexSum([]byte(goodRead), true), Size: int64(len(goodRead))},
			samplepkg.Read{Path: "R2.fastq", MD5: hexSum([]byte(goodRead), true), Size: int64(len(goodRead))}))},
	}
	out := make([]Case, 0, len(cases))
	for _, c := range cases {
		out = append(out, Case{Path: "packages/" + c.dir + "/", Procedure: "PackageImport",
			Feed: fmt.Sprintf("objects/ uploaded under samples/<name>/ of the import bucket and %s as manifests/samples/<name>.json (%s replaced by a fresh name), then `opsflow import --package <name> --wait`",
				ManifestFile, NameToken),
			Expect: c.expect, Bad: c.bad, files: c.p.files()})
	}
	return out
}
