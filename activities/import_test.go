package activities

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

func newImport(t *testing.T) (*ImportActivities, *testsuite.TestActivityEnvironment) {
	c, bucket := s3test.NewBucket(t)
	h, err := ident.NewHasher([]byte("test-identifier-key"), true)
	require.NoError(t, err)
	acts := &ImportActivities{S3: c, Bucket: bucket, DurableDir: t.TempDir(), Hasher: h}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return acts, env
}

func hexMD5(body string) string    { s := md5.Sum([]byte(body)); return hex.EncodeToString(s[:]) }
func hexSHA256(body string) string { s := sha256.Sum256([]byte(body)); return hex.EncodeToString(s[:]) }

// plantPackage uploads a sample package as the nsc-exporter does: its reads and a .sample
// file listing them (with the MD5s of lie instead where given) under samples/<name>/, then its
// manifest.
func plantPackage(t *testing.T, a *ImportActivities, name string, reads map[string]string, lie map[string]string) {
	paths := make([]string, 0, len(reads))
	for p := range reads {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	files := map[string]string{}
	var list string
	for _, p := range paths {
		body := reads[p]
		files[p] = body
		md := hexMD5(body)
		if l, ok := lie[p]; ok {
			md = l
		}
		if list != "" {
			list += ","
		}
		list += fmt.Sprintf(`{"path":%q,"md5":%q,"size":%d}`, p, md, len(body))
	}
	files[samplepkg.SampleFileName(name)] = fmt.Sprintf(`{"name":%q,"reads":[%s]}`, name, list)
	plantFiles(t, a, samplepkg.KindSample, name, files)
}

// plantFiles uploads files under <kind>/<name>/, then a manifest listing them.
func plantFiles(t *testing.T, a *ImportActivities, kind samplepkg.Kind, name string, files map[string]string) {
	for p, body := range files {
		s3test.Put(t, a.S3, a.Bucket, samplepkg.ObjectPrefix(kind, name)+p, []byte(body), nil)
	}
	putManifest(t, a, kind, name, manifestOf(kind, name, files))
}

func manifestOf(kind samplepkg.Kind, name string, files map[string]string) samplepkg.Manifest {
	m := samplepkg.Manifest{Kind: kind, Package: name}
	for p, body := range files {
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: p, Size: int64(len(body)), SHA256: hexSHA256(body)})
	}
	return m
}

func putManifest(t *testing.T, a *ImportActivities, kind samplepkg.Kind, name string, m samplepkg.Manifest) {
	data, err := m.Encode()
	require.NoError(t, err)
	s3test.Put(t, a.S3, a.Bucket, samplepkg.ManifestKey(kind, name), data, nil)
}

func runImport(t *testing.T, a *ImportActivities, env *testsuite.TestActivityEnvironment, in ImportInput) (FetchResult, error) {
	v, err := env.ExecuteActivity(a.FetchPackage, in)
	if err != nil {
		return FetchResult{}, err
	}
	var staged FetchResult
	require.NoError(t, v.Get(&staged))
	if _, err := env.ExecuteActivity(a.VerifyPackage, in, staged); err != nil {
		return staged, err
	}
	_, err = env.ExecuteActivity(a.PublishPackage, in, staged)
	return staged, err
}

func TestImportPublishesVerifiedPackageWithReadyLast(t *testing.T) {
	a, env := newImport(t)
	plantPackage(t, a, "Diag-wgs1-NA1", map[string]string{"NA1_R1.fastq.gz": "ACGT\n", "lane2/NA1_R2.fastq.gz": "TTGA\n"}, nil)
	staged, err := runImport(t, a, env, ImportInput{Package: "Diag-wgs1-NA1"})
	require.NoError(t, err)
	assert.Regexp(t, `^h-[0-9a-f]{16}$`, staged.PackageID)
	assert.NotContains(t, staged.StagingDir, "NA1", "staging is named by the hash")
	require.NotNil(t, staged.Manifest)
	assert.Len(t, staged.Manifest.Files, 3)
	dest := filepath.Join(a.DurableDir, "samples", "Diag-wgs1-NA1")
	assert.FileExists(t, filepath.Join(dest, "lane2", "NA1_R2.fastq.gz"))
	assert.FileExists(t, filepath.Join(dest, samplepkg.ReadyMarker))
	assert.NoDirExists(t, staged.StagingDir)

	// Publishing again is idempotent; a second import into an existing package is refused.
	_, err = env.ExecuteActivity(a.PublishPackage, ImportInput{Package: "Diag-wgs1-NA1"}, staged)
	require.NoError(t, err)
	again, err := runImport(t, a, env, ImportInput{Package: "Diag-wgs1-NA1"})
	requireAppError(t, err, ErrDuplicateImport)
	assert.NoDirExists(t, again.StagingDir, "the refused copy is not left behind")
	assert.FileExists(t, filepath.Join(dest, samplepkg.ReadyMarker), "the imported package is untouched")
}

func TestImportRefusesChecksumMismatchWithoutReady(t *testing.T) {
	a, env := newImport(t)
	plantPackage(t, a, "Diag-wgs2", map[string]string{"R1.fastq.gz": "ACGT\n"}, map[string]string{"R1.fastq.gz": "00000000000000000000000000000000"})
	staged, err := runImport(t, a, env, ImportInput{Package: "Diag-wgs2"})
	app := requireAppError(t, err, ErrChecksumMismatch)
	assert.Contains(t, app.Error(), "R1.fastq.gz: md5 "+hexMD5("ACGT\n")+", want 00000000000000000000000000000000")
	assert.NoDirExists(t, filepath.Join(a.DurableDir, "samples", "Diag-wgs2"), "nothing published, no READY")
	_, err = env.ExecuteActivity(a.DiscardStaging, staged)
	require.NoError(t, err)
	assert.NoDirExists(t, staged.StagingDir)
	assert.NoFileExists(t, staged.StagingDir+".checks.json")
}

// TestVerifyChecksEveryFileAgainstTheManifest: a staged file whose SHA-256 is not the
// manifest's, and a file the manifest does not list, are both named in one error.
func TestVerifyChecksEveryFileAgainstTheManifest(t *testing.T) {
	a, env := newImport(t)
	plantPackage(t, a, "Diag-wgs4", map[string]string{"R1.fastq.gz": "ACGT\n", "R2.fastq.gz": "TTGA\n"}, nil)
	in := ImportInput{Package: "Diag-wgs4"}
	v, err := env.ExecuteActivity(a.FetchPackage, in)
	require.NoError(t, err)
	var staged FetchResult
	require.NoError(t, v.Get(&staged))
	rewriteStaged(t, filepath.Join(staged.StagingDir, "R2.fastq.gz"), "TTGC\n")
	require.NoError(t, os.WriteFile(filepath.Join(staged.StagingDir, "stray.txt"), []byte("x"), 0o644))
	_, err = env.ExecuteActivity(a.VerifyPackage, in, staged)
	app := requireAppError(t, err, ErrChecksumMismatch)
	assert.Contains(t, app.Error(), "R2.fastq.gz: sha256 "+hexSHA256("TTGC\n")+", want "+hexSHA256("TTGA\n"))
	assert.Contains(t, app.Error(), "stray.txt: extra")
	assert.NotContains(t, app.Error(), "R1.fastq.gz")
	checks := a.loadChecks(staged.PackageID)
	require.Len(t, checks, 2, "the findings are kept for the quarantine report")

	require.NoError(t, os.Remove(filepath.Join(staged.StagingDir, "stray.txt")))
	rewriteStaged(t, filepath.Join(staged.StagingDir, "R2.fastq.gz"), "TTG\n")
	_, err = env.ExecuteActivity(a.VerifyPackage, in, staged)
	app = requireAppError(t, err, ErrManifestMismatch)
	assert.Contains(t, app.Error(), "R2.fastq.gz: size 4, want 5")
}

// TestFetchRequiresTheManifestAndObjectsMatchingIt: no manifest is ErrManifestMissing; objects
// missing, extra or of another size than the manifest says are ErrManifestMismatch naming
// them, before anything is copied.
func TestFetchRequiresTheManifestAndObjectsMatchingIt(t *testing.T) {
	a, env := newImport(t)
	s3test.Put(t, a.S3, a.Bucket, "samples/Diag-nomf/R1.fastq.gz", []byte("ACGT\n"), nil)
	_, err := env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "Diag-nomf"})
	app := requireAppError(t, err, ErrManifestMissing)
	assert.Contains(t, app.Error(), "manifests/samples/Diag-nomf.json")

	files := map[string]string{"Diag-mm.sample": `{"name":"Diag-mm","reads":[]}`, "R1.fastq.gz": "ACGT\n", "R2.fastq.gz": "TTGA\n"}
	m := manifestOf(samplepkg.KindSample, "Diag-mm", files)
	for i := range m.Files {
		if m.Files[i].Path == "R1.fastq.gz" {
			m.Files[i].Size = 99
		}
	}
	m.Files = append(m.Files, samplepkg.ManifestFile{Path: "R3.fastq.gz", Size: 1, SHA256: hexSHA256("x")})
	delete(files, "R2.fastq.gz")
	for p, body := range files {
		s3test.Put(t, a.S3, a.Bucket, "samples/Diag-mm/"+p, []byte(body), nil)
	}
	s3test.Put(t, a.S3, a.Bucket, "samples/Diag-mm/extra.bin", []byte("x"), nil)
	putManifest(t, a, samplepkg.KindSample, "Diag-mm", m)
	_, err = env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "Diag-mm"})
	app = requireAppError(t, err, ErrManifestMismatch)
	for _, want := range []string{"R1.fastq.gz: size 5, want 99", "R2.fastq.gz: missing", "R3.fastq.gz: missing", "extra.bin: extra"} {
		assert.Contains(t, app.Error(), want)
	}
	assert.NoDirExists(t, a.layout().StagingDir(samplepkg.ID(a.Hasher, "Diag-mm")), "nothing copied")

	s3test.Put(t, a.S3, a.Bucket, "manifests/samples/Diag-badmf.json", []byte(`{"kind":"samples"`), nil)
	_, err = env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "Diag-badmf"})
	app = requireAppError(t, err, ErrManifestMismatch)
	assert.Contains(t, app.Error(), "not valid JSON")
}

// TestImportOfOtherKinds: an analysis is checked for a .analysis naming it and published with
// READY under analyses/; a backup is published under backup/ without READY.
func TestImportOfOtherKinds(t *testing.T) {
	a, env := newImport(t)
	plantFiles(t, a, samplepkg.KindAnalysis, "Diag-an1", map[string]string{"Diag-an1.analysis": `{"name":"Diag-an1","type":"annopipe"}`, "vcf/x.vcf": "##fileformat=VCF\n"})
	staged, err := runImport(t, a, env, ImportInput{Package: "Diag-an1", Kind: samplepkg.KindAnalysis})
	require.NoError(t, err)
	assert.NotEqual(t, samplepkg.ID(a.Hasher, "Diag-an1"), staged.PackageID, "an analysis has its own id")
	assert.FileExists(t, filepath.Join(a.DurableDir, "analyses", "Diag-an1", "vcf", "x.vcf"))
	assert.FileExists(t, filepath.Join(a.DurableDir, "analyses", "Diag-an1", samplepkg.ReadyMarker))

	plantFiles(t, a, samplepkg.KindBackup, "Diag-bk1", map[string]string{"b.tar": "backup\n"})
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-bk1", Kind: samplepkg.KindBackup})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(a.DurableDir, "backup", "Diag-bk1", "b.tar"))
	assert.NoFileExists(t, filepath.Join(a.DurableDir, "backup", "Diag-bk1", samplepkg.ReadyMarker), "backups get no READY")

	plantFiles(t, a, samplepkg.KindAnalysis, "Diag-an2", map[string]string{"Diag-an2.analysis": `{"name":"Diag-other"}`})
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-an2", Kind: samplepkg.KindAnalysis})
	app := requireAppError(t, err, ErrMalformedPackage)
	assert.Contains(t, app.Error(), `names "Diag-other"`)

	_, err = env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "Diag-an1", Kind: "photos"})
	requireAppError(t, err, ErrInvalidPackage)
}

func TestImportRejectsBadInput(t *testing.T) {
	a, env := newImport(t)
	_, err := env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "../etc"})
	requireAppError(t, err, ErrInvalidPackage)

	plantFiles(t, a, samplepkg.KindSample, "Diag-bad", map[string]string{"Diag-bad.sample": `{"name": "Diag-bad", "reads": [`})
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-bad"})
	app := requireAppError(t, err, ErrMalformedPackage)
	assert.Contains(t, app.Error(), "not valid JSON")

	plantFiles(t, a, samplepkg.KindSample, "Diag-esc", map[string]string{"Diag-esc.sample": `{"name":"Diag-esc","reads":[{"path":"../../x","md5":"00000000000000000000000000000000","size":1}]}`})
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-esc"})
	app = requireAppError(t, err, ErrMalformedPackage)
	assert.Contains(t, app.Error(), "unsafe path")

	plantFiles(t, a, samplepkg.KindSample, "Diag-unl", map[string]string{"Diag-unl.sample": `{"name":"Diag-unl","reads":[{"path":"R9.fastq.gz","md5":"00000000000000000000000000000000","size":1}]}`})
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-unl"})
	app = requireAppError(t, err, ErrManifestMismatch)
	assert.Contains(t, app.Error(), "R9.fastq.gz: not in manifest")
	entries, _ := os.ReadDir(filepath.Join(a.DurableDir, "samples"))
	assert.Empty(t, entries, "no package published from bad input")
}

func TestImportDryRunWritesNothing(t *testing.T) {
	a, env := newImport(t)
	plantPackage(t, a, "Diag-wgs3", map[string]string{"R1.fastq.gz": "ACGT\n"}, nil)
	v, err := env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "Diag-wgs3", DryRun: true})
	require.NoError(t, err)
	var staged FetchResult
	require.NoError(t, v.Get(&staged))
	assert.Len(t, staged.Files, 2)
	assert.Equal(t, filepath.Join(a.DurableDir, "samples", "Diag-wgs3"), staged.PublishedDir)
	entries, _ := os.ReadDir(a.DurableDir)
	assert.Empty(t, entries)
}
