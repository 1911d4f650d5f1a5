package activities

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

func readReport(t *testing.T, path string) QuarantineReport {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep QuarantineReport
	require.NoError(t, json.Unmarshal(data, &rep))
	return rep
}

// TestQuarantineMovesTheRefusedPackageWithAReport: a package whose read fails its MD5 is moved
// out of staging into the quarantine with REPORT.json listing the read (expected and actual
// MD5); quarantining again changes nothing but the report; the package gets no READY.
func TestQuarantineMovesTheRefusedPackageWithAReport(t *testing.T) {
	a, env := newImport(t)
	plantPackage(t, a, "Diag-q1", map[string]string{"R1.fastq.gz": "ACGT\n"}, map[string]string{"R1.fastq.gz": "00000000000000000000000000000000"})
	in := ImportInput{Package: "Diag-q1"}
	staged, err := runImport(t, a, env, in)
	app := requireAppError(t, err, ErrChecksumMismatch)

	for range 2 { // a retry of the quarantine is harmless
		v, err := env.ExecuteActivity(a.QuarantinePackage, QuarantineInput{Package: in, Staged: staged, Reason: app.Error()})
		require.NoError(t, err)
		var res QuarantineResult
		require.NoError(t, v.Get(&res))
		assert.Equal(t, a.layout().QuarantineDir(samplepkg.KindSample, staged.PackageID), res.Dir)
		assert.FileExists(t, filepath.Join(res.Dir, "R1.fastq.gz"))
		rep := readReport(t, res.Report)
		assert.Equal(t, app.Error(), rep.Reason)
		assert.Equal(t, "Diag-q1", rep.Package)
		assert.Equal(t, samplepkg.KindSample, rep.Kind)
		assert.True(t, rep.Staged)
		assert.NotEmpty(t, rep.Time)
		require.Len(t, rep.Files, 1)
		assert.Equal(t, FileCheck{Path: "R1.fastq.gz", Problem: "md5", WantSize: 5, GotSize: 5, WantSHA256: hexSHA256("ACGT\n"),
			GotSHA256: hexSHA256("ACGT\n"), WantMD5: "00000000000000000000000000000000", GotMD5: hexMD5("ACGT\n")}, rep.Files[0])
	}
	assert.NoDirExists(t, staged.StagingDir)
	assert.NoFileExists(t, staged.StagingDir+".checks.json")
	assert.NoDirExists(t, filepath.Join(a.DurableDir, "samples", "Diag-q1"))
}

// TestQuarantineOfAPackageRefusedBeforeCopying: a fetch refused because the objects differ from
// the manifest stages nothing; its quarantine is the report alone, which keeps scans from
// offering the package again.
func TestQuarantineOfAPackageRefusedBeforeCopying(t *testing.T) {
	a, env := newImport(t)
	files := map[string]string{"Diag-q2.sample": `{"name":"Diag-q2","reads":[]}`, "R1.fastq.gz": "ACGT\n"}
	putManifest(t, a, samplepkg.KindSample, "Diag-q2", manifestOf(samplepkg.KindSample, "Diag-q2", files))
	s3test.Put(t, a.S3, a.Bucket, "samples/Diag-q2/Diag-q2.sample", []byte(files["Diag-q2.sample"]), nil)
	in := ImportInput{Package: "Diag-q2"}
	_, err := env.ExecuteActivity(a.FetchPackage, in)
	app := requireAppError(t, err, ErrManifestMismatch)
	v, err := env.ExecuteActivity(a.QuarantinePackage, QuarantineInput{Package: in, Reason: app.Error()})
	require.NoError(t, err)
	var res QuarantineResult
	require.NoError(t, v.Get(&res))
	rep := readReport(t, res.Report)
	assert.False(t, rep.Staged)
	require.Len(t, rep.Files, 1)
	assert.Equal(t, FileCheck{Path: "R1.fastq.gz", Problem: "missing", WantSize: 5, WantSHA256: hexSHA256("ACGT\n")}, rep.Files[0])

	v, err = env.ExecuteActivity(a.ListImportCandidates, ScanPage{Limit: 10})
	require.NoError(t, err)
	var page ImportCandidatesPage
	require.NoError(t, v.Get(&page))
	assert.Equal(t, ImportCandidatesPage{Quarantined: 1}, page)
}

// TestListImportCandidatesPagesThroughTheManifests: published and quarantined packages are
// counted, not offered; keys that name no package are refused; pages follow the cursor.
func TestListImportCandidatesPagesThroughTheManifests(t *testing.T) {
	a, env := newImport(t)
	for _, n := range []string{"Diag-c1", "Diag-c2", "Diag-c3"} {
		putManifest(t, a, samplepkg.KindSample, n, manifestOf(samplepkg.KindSample, n, map[string]string{n + ".sample": "{}"}))
	}
	putManifest(t, a, samplepkg.KindAnalysis, "Diag-c1", manifestOf(samplepkg.KindAnalysis, "Diag-c1", map[string]string{"Diag-c1.analysis": "{}"}))
	s3test.Put(t, a.S3, a.Bucket, "manifests/photos/Diag-c9.json", []byte("{}"), nil)
	s3test.Put(t, a.S3, a.Bucket, "manifests/samples/.hidden.json", []byte("{}"), nil)
	s3test.Put(t, a.S3, a.Bucket, "samples/Diag-c4/Diag-c4.sample", []byte("{}"), nil) // no manifest: not offered
	require.NoError(t, os.MkdirAll(a.layout().PublishedDirOf(samplepkg.KindSample, "Diag-c2"), 0o755))
	require.NoError(t, os.MkdirAll(a.layout().QuarantineDir(samplepkg.KindSample, samplepkg.ID(a.Hasher, "Diag-c3")), 0o755))

	var all ImportCandidatesPage
	cursor, pages := "", 0
	for {
		v, err := env.ExecuteActivity(a.ListImportCandidates, ScanPage{Cursor: cursor, Limit: 2})
		require.NoError(t, err)
		var page ImportCandidatesPage
		require.NoError(t, v.Get(&page))
		pages++
		all.Packages = append(all.Packages, page.Packages...)
		all.Refused = append(all.Refused, page.Refused...)
		all.Published += page.Published
		all.Quarantined += page.Quarantined
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		require.Less(t, pages, 10)
	}
	assert.Equal(t, 3, pages, "6 keys, 2 a page")
	assert.Equal(t, []ExportPackage{
		{Kind: samplepkg.KindAnalysis, Name: "Diag-c1", PackageID: samplepkg.KindID(a.Hasher, samplepkg.KindAnalysis, "Diag-c1")},
		{Kind: samplepkg.KindSample, Name: "Diag-c1", PackageID: samplepkg.ID(a.Hasher, "Diag-c1")},
	}, all.Packages)
	assert.Equal(t, []string{"manifests/photos/Diag-c9.json", "manifests/samples/.hidden.json"}, all.Refused)
	assert.Equal(t, 1, all.Published)
	assert.Equal(t, 1, all.Quarantined)

	_, err := env.ExecuteActivity(a.ListImportCandidates, ScanPage{})
	requireAppError(t, err, ErrInvalidInput)
}
