package samplepkg

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sha0 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestManifestKeysRoundTrip(t *testing.T) {
	for _, k := range Kinds {
		key := ManifestKey(k, "Diag-1")
		gotKind, gotName, err := ParseManifestKey(key)
		require.NoError(t, err, key)
		assert.Equal(t, k, gotKind)
		assert.Equal(t, "Diag-1", gotName)
	}
	assert.Equal(t, "samples/Diag-1/", ObjectPrefix(KindSample, "Diag-1"))
	assert.Equal(t, "manifests/analyses/A-1.json", ManifestKey(KindAnalysis, "A-1"))
	for _, bad := range []string{"samples/x.json", "manifests/x.json", "manifests/weird/x.json", "manifests/samples/..json",
		"manifests/samples/.hidden.json", "manifests/samples/a/b.json", "manifests/samples/x.txt", "manifests//x.json"} {
		_, _, err := ParseManifestKey(bad)
		assert.Error(t, err, bad)
	}
}

func TestParseManifest(t *testing.T) {
	key := ManifestKey(KindSample, "S1")
	good := `{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":0,"sha256":"` + strings.ToUpper(sha0) + `"},{"path":"R1.fastq.gz","size":0,"sha256":"` + sha0 + `"}]}`
	m, err := ParseManifest(key, []byte(good))
	require.NoError(t, err)
	assert.Equal(t, []ManifestFile{{Path: "R1.fastq.gz", SHA256: sha0}, {Path: "S1.sample", SHA256: sha0}}, m.Files)
	enc, err := m.Encode()
	require.NoError(t, err)
	again, err := ParseManifest(key, enc)
	require.NoError(t, err)
	assert.Equal(t, m, again)

	for doc, want := range map[string]string{
		`{"kind":"samples","package":"S1","files":[`:                                                                                                              "is not valid JSON",
		`{"kind":"samples","package":"S2","files":[{"path":"S1.sample","size":0,"sha256":"` + sha0 + `"}]}`:                                                       "not the package its key names",
		`{"kind":"samples","package":"S1","files":[]}`:                                                                                                            "lists no files",
		`{"kind":"samples","package":"S1","files":[{"path":"../x","size":0,"sha256":"` + sha0 + `"}]}`:                                                            `".." segment`,
		`{"kind":"samples","package":"S1","files":[{"path":"R1","size":-1,"sha256":"` + sha0 + `"}]}`:                                                             "negative size",
		`{"kind":"samples","package":"S1","files":[{"path":"R1","size":1,"sha256":"abc"}]}`:                                                                       "R1",
		`{"kind":"samples","package":"S1","files":[{"path":"R1","size":0,"sha256":"` + sha0 + `"}]}`:                                                              "does not list S1.sample",
		`{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":0,"sha256":"` + sha0 + `"}],"extra":1}`:                                             "unknown field",
		`{"kind":"samples","package":"S1","files":[{"path":"S1.sample","size":0,"sha256":"` + sha0 + `"},{"path":"S1.sample","size":0,"sha256":"` + sha0 + `"}]}`: "twice",
	} {
		_, err := ParseManifest(key, []byte(doc))
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), want, doc)
	}
}

func TestKinds(t *testing.T) {
	k, err := ParseKind("")
	require.NoError(t, err)
	assert.Equal(t, KindSample, k)
	_, err = ParseKind("../samples")
	assert.Error(t, err)
	assert.Equal(t, "A.analysis", KindAnalysis.DescriptionFile("A"))
	assert.Equal(t, "", KindBackup.DescriptionFile("B"))
	assert.False(t, KindBackup.MarksReady())
	assert.True(t, KindEllaIncoming.MarksReady())
	l := Layout{Durable: "/d"}
	assert.Equal(t, "/d/analyses/A", l.PublishedDirOf(KindAnalysis, "A"))
	assert.Equal(t, "/d/.quarantine/samples/h-1", l.QuarantineDir(KindSample, "h-1"))
}
