package samplepkg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ident"
)

func TestCheckNameAcceptsOnlyPlainNames(t *testing.T) {
	require.NoError(t, CheckName("Diag-wgs123-NA12878"))
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", `a\b`, "a\x00b", "../etc"} {
		assert.Error(t, CheckName(bad), "%q", bad)
	}
}

func TestSafePath(t *testing.T) {
	for _, ok := range []string{"R1.fastq.gz", "reads/R1.fastq.gz"} {
		assert.True(t, SafePath(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/", "a/.", "a/..", "a/./b", "a/x/../b", "a\x00b"} {
		assert.False(t, SafePath(bad), bad)
		assert.Error(t, CheckPath(bad), bad)
	}
	assert.EqualError(t, CheckPath("a/.."), `path "a/.." has a ".." segment`)
	assert.EqualError(t, CheckPath("a//x"), `path "a//x" has an empty segment`)
}

func TestParseSampleFile(t *testing.T) {
	sf, err := ParseSampleFile("s.sample", []byte(`{"name":"s","reads":[{"path":"r1.fastq.gz","md5":"D41D8CD98F00B204E9800998ECF8427E","size":0}]}`))
	require.NoError(t, err)
	assert.Equal(t, []Read{{Path: "r1.fastq.gz", MD5: "d41d8cd98f00b204e9800998ecf8427e", Size: 0}}, sf.Reads)

	for doc, want := range map[string]string{
		`{"name": "s", "reads": [`: "s.sample is not valid JSON",
		`{"name":"s","reads":[]}`:  "s.sample lists no reads",
		`{"name":"s","reads":[{"path":"../../x","md5":"00000000000000000000000000000000","size":1}]}`: `read 0 has an unsafe path "../../x"`,
		`{"name":"s","reads":[{"path":"r1","md5":"xyz","size":1}]}`:                                   "s.sample: read r1:",
	} {
		_, err := ParseSampleFile("s.sample", []byte(doc))
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), want, doc)
	}
}

func TestLayoutAndID(t *testing.T) {
	l := Layout{Durable: "/durable"}
	assert.Equal(t, "/durable/.staging/h-1", l.StagingDir("h-1"))
	assert.True(t, l.IsStagingDir(l.StagingDir("h-1")))
	assert.False(t, l.IsStagingDir("/durable/samples/x"))
	assert.False(t, l.IsStagingDir(""))
	assert.Equal(t, "/durable/samples/Diag-1", l.PublishedDir("Diag-1"))
	assert.Equal(t, "Diag-1/", Prefix("Diag-1"))
	assert.Equal(t, "Diag-1.sample", SampleFileName("Diag-1"))

	h, err := ident.NewHasher([]byte("test-identifier-key"), true)
	require.NoError(t, err)
	assert.Regexp(t, `^h-[0-9a-f]{16}$`, ID(h, "Diag-1"))
	assert.Equal(t, h.ID("package", "Diag-1"), ID(h, "Diag-1"), "the starter's `opsflow find` hashes the same way")
}
