package samplepkg_test

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/samplepkg"
)

var (
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	md5RE    = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// FuzzParseManifest parses arbitrary manifests under arbitrary keys. An accepted manifest
// is valid JSON; it describes the kind and package its key names; it lists at least one
// file, sorted and each once, every path safe and local, sizes not negative, SHA-256s 64
// lower-case hex digits, the kind's description file among them; and it encodes
// deterministically to a document that parses back to the same value.
func FuzzParseManifest(f *testing.F) {
	real := realManifest(f)
	f.Add(samplepkg.ManifestKey(real.Kind, real.Package), mustEncode(f, real))
	good := `{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":0,"sha256":"` + strings.Repeat("E3", 32) + `"},{"path":"R1.fastq.gz","size":0,"sha256":"` + strings.Repeat("0", 64) + `"}]}`
	for _, doc := range []string{
		good,
		good + "\n",
		`{"kind":"samples","package":"S1","files":[`,
		`{"kind":"samples","package":"S1","files":[]}`,
		`{"kind":"samples","package":"S1","files":[{"path":"../x","size":0,"sha256":"` + strings.Repeat("0", 64) + `"}]}`,
		`{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":-1,"sha256":"` + strings.Repeat("0", 64) + `"}]}`,
		`{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":1,"sha256":"abc"}]}`,
		`{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":0,"sha256":"` + strings.Repeat("0", 64) + `"},{"path":"S1.sample","size":0,"sha256":"` + strings.Repeat("0", 64) + `"}]}`,
		`{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":0,"sha256":"` + strings.Repeat("0", 64) + `"}],"extra":1}`,
	} {
		f.Add(samplepkg.ManifestKey(samplepkg.KindSample, "S1"), []byte(doc))
	}
	f.Add(samplepkg.ManifestKey(samplepkg.KindBackup, "B1"), []byte(`{"kind":"backup","package":"B1","files":[{"path":"db/dump.sql","size":3,"sha256":"`+strings.Repeat("a", 64)+`"}]}`))
	f.Add("manifests/samples/../x.json", []byte(good))
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		m, err := samplepkg.ParseManifest(key, data)
		if err != nil {
			return
		}
		require.True(t, json.Valid(data), "accepted a manifest that is not valid JSON: %q", data)
		kind, name, err := samplepkg.ParseManifestKey(key)
		require.NoError(t, err, "accepted a manifest under a key that is none")
		require.Equal(t, kind, m.Kind)
		require.Equal(t, name, m.Package)
		require.NotEmpty(t, m.Files)
		for i, file := range m.Files {
			checkSafePath(t, file.Path)
			if i > 0 {
				require.Less(t, m.Files[i-1].Path, file.Path, "files not sorted or listed twice")
			}
			require.GreaterOrEqual(t, file.Size, int64(0), file.Path)
			require.Regexp(t, sha256RE, file.SHA256, file.Path)
		}
		if desc := kind.DescriptionFile(name); desc != "" {
			require.True(t, containsPath(m.Files, desc), "accepted without %s", desc)
		}
		enc, err := m.Encode()
		require.NoError(t, err)
		enc2, err := m.Encode()
		require.NoError(t, err)
		require.Equal(t, enc, enc2, "Encode is not deterministic")
		again, err := samplepkg.ParseManifest(key, enc)
		require.NoError(t, err, "the encoded manifest does not parse: %s", enc)
		require.Equal(t, m, again)
	})
}

// FuzzParseSampleFile parses arbitrary .sample documents. An accepted one is valid JSON,
// lists at least one read, every path safe and local and every MD5 32 lower-case hex
// digits, and marshals to a document that parses back to the same value.
func FuzzParseSampleFile(f *testing.F) {
	f.Add(realSampleFile(f))
	for _, doc := range []string{
		`{"name":"S1","reads":[{"path":"R1.fastq.gz","md5":"` + strings.Repeat("A", 32) + `","size":3}]}`,
		`{"name":"S1","reads":[]}`,
		`{"name":"S1","reads":[{"path":"../R1","md5":"` + strings.Repeat("a", 32) + `"}]}`,
		`{"name":"S1","reads":[{"path":"a//b","md5":"` + strings.Repeat("a", 32) + `"}]}`,
		`{"name":"S1","reads":[{"path":"R1","md5":"xyz"}]}`,
		`{"reads":[{"path":"R1","md5":" ` + strings.Repeat("a", 32) + ` ","size":-1}]}`,
		`null`, `[]`, `{"reads":{}}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := samplepkg.ParseSampleFile("S.sample", data)
		if err != nil {
			require.Contains(t, err.Error(), "S.sample", "the error names the file")
			return
		}
		require.True(t, json.Valid(data), "accepted a .sample that is not valid JSON: %q", data)
		require.NotEmpty(t, sf.Reads)
		for _, r := range sf.Reads {
			checkSafePath(t, r.Path)
			require.Regexp(t, md5RE, r.MD5, r.Path)
		}
		enc, err := json.Marshal(sf)
		require.NoError(t, err)
		again, err := samplepkg.ParseSampleFile("S.sample", enc)
		require.NoError(t, err, "the re-encoded .sample does not parse: %s", enc)
		require.Equal(t, sf, again)
	})
}

// FuzzPackageNames checks the name and path rules on arbitrary strings: a name CheckName
// accepts is one plain directory entry (no "/", "\", NUL, not "." or "..", not hidden) that
// round-trips through every kind's manifest key; a path CheckPath accepts is relative,
// canonical and stays beneath the package's directory; a key ParseManifestKey accepts is
// the ManifestKey of what it returns.
func FuzzPackageNames(f *testing.F) {
	for _, s := range []string{"Diag-demo-NA00001", "Diag-wgs1-NA1", "R1.fastq.gz", "lane2/R2.fastq.gz", "..", ".", "",
		"a/../b", "/abs", "a//b", "a/", "a\x00b", ".hidden", "-rf", "a\\b", "Diag-1.sample", "manifests/samples/S1.json",
		"manifests/analyses/A-1.json", "manifests/samples/..json", "manifests/samples/a/b.json", "manifests//x.json"} {
		f.Add(s)
	}
	base := filepath.FromSlash("/durable/samples")
	f.Fuzz(func(t *testing.T, s string) {
		if samplepkg.CheckName(s) == nil {
			require.NotEmpty(t, s)
			require.False(t, strings.ContainsAny(s, "/\\\x00"), "name %q", s)
			require.NotContains(t, []string{".", ".."}, s)
			require.False(t, strings.HasPrefix(s, "."), "name %q is hidden", s)
			p := filepath.Join(base, s)
			require.Equal(t, base, filepath.Dir(p), "name %q", s)
			require.Equal(t, s, filepath.Base(p), "name %q", s)
			for _, k := range samplepkg.Kinds {
				kind, name, err := samplepkg.ParseManifestKey(samplepkg.ManifestKey(k, s))
				require.NoError(t, err, "name %q", s)
				require.Equal(t, k, kind)
				require.Equal(t, s, name)
			}
		}
		if samplepkg.CheckPath(s) == nil {
			require.True(t, samplepkg.SafePath(s))
			checkSafePath(t, s)
		} else {
			require.False(t, samplepkg.SafePath(s))
		}
		if kind, name, err := samplepkg.ParseManifestKey(s); err == nil {
			require.NoError(t, samplepkg.CheckName(name), "key %q", s)
			require.Equal(t, s, samplepkg.ManifestKey(kind, name))
		}
	})
}

// checkSafePath: relative, canonical, no "", "." or ".." element, no NUL, local, and joined
// to a directory it stays beneath it.
func checkSafePath(t *testing.T, p string) {
	require.NotEmpty(t, p)
	require.False(t, path.IsAbs(p) || strings.ContainsRune(p, 0), "path %q", p)
	require.Equal(t, path.Clean(p), p, "path %q is not canonical", p)
	require.True(t, filepath.IsLocal(p), "path %q is not local", p)
	for elem := range strings.SplitSeq(p, "/") {
		require.NotContains(t, []string{"", ".", ".."}, elem, "path %q", p)
	}
	base := filepath.FromSlash("/durable/samples/P")
	require.True(t, strings.HasPrefix(filepath.Join(base, p), base+string(filepath.Separator)), "path %q leaves the package", p)
}

func containsPath(files []samplepkg.ManifestFile, p string) bool {
	for _, f := range files {
		if f.Path == p {
			return true
		}
	}
	return false
}

// realManifest is the manifest of the demo package testdata/packages/Diag-demo-NA00001 with
// its .sample, sizes and SHA-256s of the real files.
func realManifest(f *testing.F) samplepkg.Manifest {
	const name = "Diag-demo-NA00001"
	dir := filepath.Join("..", "..", "testdata", "packages", name)
	entries, err := os.ReadDir(dir)
	require.NoError(f, err)
	m := samplepkg.Manifest{Kind: samplepkg.KindSample, Package: name}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(f, err)
		sum := sha256.Sum256(b)
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: e.Name(), Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
	}
	sum := sha256.Sum256(nil)
	m.Files = append(m.Files, samplepkg.ManifestFile{Path: samplepkg.SampleFileName(name), SHA256: hex.EncodeToString(sum[:])})
	return m
}

// realSampleFile is the .sample the lims-exporter writes for testdata/lims-queue/S0001.json:
// the LIMS's sample document with its reads' paths, MD5s and sizes.
func realSampleFile(f *testing.F) []byte {
	q := filepath.Join("..", "..", "testdata", "lims-queue")
	raw, err := os.ReadFile(filepath.Join(q, "S0001.json"))
	require.NoError(f, err)
	var item struct {
		Sample map[string]any    `json:"sample"`
		Reads  []json.RawMessage `json:"reads"`
	}
	require.NoError(f, json.Unmarshal(raw, &item))
	var reads []samplepkg.Read
	for _, p := range []string{"NA1_R1.fastq", "NA1_R2.fastq"} {
		b, err := os.ReadFile(filepath.Join(q, "reads", p))
		require.NoError(f, err)
		sum := md5.Sum(b)
		reads = append(reads, samplepkg.Read{Path: p, MD5: hex.EncodeToString(sum[:]), Size: int64(len(b))})
	}
	item.Sample["reads"] = reads
	out, err := json.MarshalIndent(item.Sample, "", "  ")
	require.NoError(f, err)
	return out
}

func mustEncode(f *testing.F, m samplepkg.Manifest) []byte {
	b, err := m.Encode()
	require.NoError(f, err)
	return b
}
