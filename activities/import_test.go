package activities

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
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

// plantPackage uploads a sample package: its reads and a .sample file listing them.
func plantPackage(t *testing.T, a *ImportActivities, name string, reads map[string]string, lie map[string]string) {
	var list string
	for p, body := range reads {
		s3test.Put(t, a.S3, a.Bucket, name+"/"+p, []byte(body), nil)
		sum := md5.Sum([]byte(body))
		md := hex.EncodeToString(sum[:])
		if l, ok := lie[p]; ok {
			md = l
		}
		if list != "" {
			list += ","
		}
		list += fmt.Sprintf(`{"path":%q,"md5":%q,"size":%d}`, p, md, len(body))
	}
	s3test.Put(t, a.S3, a.Bucket, name+"/"+name+".sample", []byte(fmt.Sprintf(`{"name":%q,"reads":[%s]}`, name, list)), nil)
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
	plantPackage(t, a, "Diag-wgs1-NA1", map[string]string{"NA1_R1.fastq.gz": "ACGT\n", "NA1_R2.fastq.gz": "TTGA\n"}, nil)
	staged, err := runImport(t, a, env, ImportInput{Package: "Diag-wgs1-NA1"})
	require.NoError(t, err)
	assert.Regexp(t, `^h-[0-9a-f]{16}$`, staged.PackageID)
	assert.NotContains(t, staged.StagingDir, "NA1", "staging is named by the hash")
	dest := filepath.Join(a.DurableDir, "samples", "Diag-wgs1-NA1")
	assert.FileExists(t, filepath.Join(dest, "NA1_R1.fastq.gz"))
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
	assert.Contains(t, app.Error(), "R1.fastq.gz")
	assert.NoDirExists(t, filepath.Join(a.DurableDir, "samples", "Diag-wgs2"), "nothing published, no READY")
	_, err = env.ExecuteActivity(a.DiscardStaging, staged)
	require.NoError(t, err)
	assert.NoDirExists(t, staged.StagingDir)
}

func TestImportRejectsBadInput(t *testing.T) {
	a, env := newImport(t)
	_, err := env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "../etc"})
	requireAppError(t, err, ErrInvalidPackage)
	_, err = env.ExecuteActivity(a.FetchPackage, ImportInput{Package: "Diag-missing"})
	app := requireAppError(t, err, ErrPackageNotFound)
	assert.Contains(t, app.Error(), "Diag-missing/")

	s3test.Put(t, a.S3, a.Bucket, "Diag-bad/Diag-bad.sample", []byte(`{"name": "Diag-bad", "reads": [`), nil)
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-bad"})
	app = requireAppError(t, err, ErrMalformedPackage)
	assert.Contains(t, app.Error(), "not valid JSON")

	s3test.Put(t, a.S3, a.Bucket, "Diag-esc/Diag-esc.sample", []byte(`{"name":"Diag-esc","reads":[{"path":"../../x","md5":"00000000000000000000000000000000","size":1}]}`), nil)
	_, err = runImport(t, a, env, ImportInput{Package: "Diag-esc"})
	app = requireAppError(t, err, ErrMalformedPackage)
	assert.Contains(t, app.Error(), "unsafe path")
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
	entries, _ := os.ReadDir(a.DurableDir)
	assert.Empty(t, entries)
}
