package activities

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/clarity/claritytest"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

func newLims(t *testing.T, q limsexport.Queue) (*LimsActivities, *testsuite.TestActivityEnvironment) {
	h, err := ident.NewHasher([]byte("test-identifier-key"), true)
	require.NoError(t, err)
	acts := &LimsActivities{Queue: q, ExportDir: filepath.Join(t.TempDir(), "export"), Hasher: h}
	require.NoError(t, os.Mkdir(acts.ExportDir, 0o755))
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return acts, env
}

// limsDemoQueue copies testdata/lims-queue to a scratch directory, as the demo does.
func limsDemoQueue(t *testing.T) limsexport.DirQueue {
	dir := filepath.Join(t.TempDir(), "queue")
	out, err := exec.Command("cp", "-r", "../testdata/lims-queue", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return limsexport.DirQueue{Dir: dir}
}

func listLims(t *testing.T, a *LimsActivities, env *testsuite.TestActivityEnvironment, limit int) []LimsItem {
	var items []LimsItem
	page := ScanPage{Limit: limit}
	for {
		v, err := env.ExecuteActivity(a.ListLimsQueue, page)
		require.NoError(t, err)
		var got LimsQueuePage
		require.NoError(t, v.Get(&got))
		items = append(items, got.Items...)
		if got.NextCursor == "" {
			return items
		}
		page.Cursor = got.NextCursor
	}
}

func exportLims(t *testing.T, a *LimsActivities, env *testsuite.TestActivityEnvironment, item LimsItem) (LimsExportResult, error) {
	v, err := env.ExecuteActivity(a.ExportLimsItem, item)
	if err != nil {
		return LimsExportResult{}, err
	}
	var res LimsExportResult
	require.NoError(t, v.Get(&res))
	return res, nil
}

// dirTree lists every path under root, relative to it.
func dirTree(t *testing.T, root string) []string {
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return err
	}))
	return out
}

func readSampleFile(t *testing.T, dir, name string) samplepkg.SampleFile {
	data, err := os.ReadFile(filepath.Join(dir, samplepkg.SampleFileName(name)))
	require.NoError(t, err)
	sf, err := samplepkg.ParseSampleFile(name, data)
	require.NoError(t, err, "the import must accept what the exporter writes")
	return sf
}

func TestLimsExportFromTheDirectoryQueue(t *testing.T) {
	q := limsDemoQueue(t)
	a, env := newLims(t, q)
	items := listLims(t, a, env, 2)
	id := func(k samplepkg.Kind, name string) string { return samplepkg.KindID(a.Hasher, k, name) }
	require.Equal(t, []LimsItem{
		{ID: "A0001", Kind: samplepkg.KindAnalysis, Name: "Diag-wgs1-trio1", PackageID: id(samplepkg.KindAnalysis, "Diag-wgs1-trio1")},
		{ID: "S0001", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1", PackageID: id(samplepkg.KindSample, "Diag-wgs1-NA1")},
		{ID: "S0002", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA2", PackageID: id(samplepkg.KindSample, "Diag-wgs1-NA2")},
	}, items)
	for _, it := range items {
		res, err := exportLims(t, a, env, it)
		require.NoError(t, err)
		assert.Equal(t, samplepkg.KindID(a.Hasher, it.Kind, it.Name), res.PackageID)
		assert.Equal(t, filepath.Join(a.ExportDir, string(it.Kind), it.Name), res.Dir)
		assert.FileExists(t, filepath.Join(res.Dir, it.Kind.DescriptionFile(it.Name)))
		assert.FileExists(t, filepath.Join(q.Dir, limsexport.DoneDir, it.ID+".json"), "marked exported")
	}
	sf := readSampleFile(t, filepath.Join(a.ExportDir, "samples", "Diag-wgs1-NA2"), "Diag-wgs1-NA2")
	assert.Len(t, sf.Reads, 2)
	assert.Equal(t, int64(4200), sf.Reads[0].Size)
	assert.Empty(t, listLims(t, a, env, 2), "the queue is empty once exported")
	assert.ElementsMatch(t, []string{"analyses", "analyses/Diag-wgs1-trio1", "analyses/Diag-wgs1-trio1/Diag-wgs1-trio1.analysis",
		"samples", "samples/Diag-wgs1-NA1", "samples/Diag-wgs1-NA1/Diag-wgs1-NA1.sample", "samples/Diag-wgs1-NA1/NA1_R1.fastq", "samples/Diag-wgs1-NA1/NA1_R2.fastq",
		"samples/Diag-wgs1-NA2", "samples/Diag-wgs1-NA2/Diag-wgs1-NA2.sample", "samples/Diag-wgs1-NA2/NA2_R1.fastq", "samples/Diag-wgs1-NA2/NA2_R2.fastq"},
		dirTree(t, a.ExportDir), "no temporary or lock file left")
}

func TestLimsExportRetryAfterTheMarkWasLost(t *testing.T) {
	q := limsDemoQueue(t)
	a, env := newLims(t, q)
	item := LimsItem{ID: "S0001", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1"}
	first, err := exportLims(t, a, env, item)
	require.NoError(t, err)
	assert.False(t, first.AlreadyExported)
	// The worker died after the package was durable but before the LIMS was told: the
	// item is back in the queue.
	require.NoError(t, os.Rename(filepath.Join(q.Dir, limsexport.DoneDir, "S0001.json"), filepath.Join(q.Dir, "S0001.json")))
	again, err := exportLims(t, a, env, item)
	require.NoError(t, err)
	assert.True(t, again.AlreadyExported)
	assert.Equal(t, first.Files, again.Files)
	assert.FileExists(t, filepath.Join(q.Dir, limsexport.DoneDir, "S0001.json"))

	// A different package under the same name is never overwritten.
	require.NoError(t, os.Rename(filepath.Join(q.Dir, limsexport.DoneDir, "S0001.json"), filepath.Join(q.Dir, "S0001.json")))
	require.NoError(t, os.WriteFile(filepath.Join(first.Dir, "NA1_R2.fastq"), []byte("@other\n"), 0o644))
	_, err = exportLims(t, a, env, item)
	requireAppError(t, err, ErrExportConflict)
	assert.FileExists(t, filepath.Join(q.Dir, "S0001.json"), "not marked")
}

func TestLimsExportRefusalsWriteNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		file    string
		errType string
	}{
		"malformed document": {`{"kind":"samples","sample":{"name":"Diag-wgs1-NA9",`, ErrMalformedLimsDocument},
		"sample without reads": {`{"kind":"samples","sample":{"name":"Diag-wgs1-NA9","sample_id":"NA9","project":"Diag-wgs1","flowcell_id":"H1","lane":1}}`,
			ErrSampleWithoutReads},
		"name ../x": {`{"kind":"samples","sample":{"name":"../x","sample_id":"NA9","project":"Diag-wgs1","flowcell_id":"H1","lane":1},
			"reads":[{"source":"reads/NA1_R1.fastq"}]}`, ErrInvalidPackage},
		"name a/b": {`{"kind":"analyses","analysis":{"name":"a/b","type":"basepipe","samples":["Diag-wgs1-NA1"],"params":{"genepanel":"Mendel_v01"}}}`,
			ErrInvalidPackage},
		"md5 mismatch": {`{"kind":"samples","sample":{"name":"Diag-wgs1-NA9","sample_id":"NA9","project":"Diag-wgs1","flowcell_id":"H1","lane":1},
			"reads":[{"source":"reads/NA1_R1.fastq"},{"source":"reads/NA1_R2.fastq","md5":"0123456789abcdef0123456789abcdef"}]}`, ErrChecksumMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			q := limsDemoQueue(t)
			require.NoError(t, os.WriteFile(filepath.Join(q.Dir, "S0009.json"), []byte(tc.file), 0o644))
			a, env := newLims(t, q)
			_, err := exportLims(t, a, env, LimsItem{ID: "S0009"})
			app := requireAppError(t, err, tc.errType)
			assert.Contains(t, app.Error(), "LIMS item S0009")
			assert.Empty(t, dirTree(t, a.ExportDir))
			assert.FileExists(t, filepath.Join(q.Dir, "S0009.json"), "not marked exported")
		})
	}
}

func limsClarity(t *testing.T, queueID string) (limsexport.ClarityQueue, *claritytest.Server) {
	srv := claritytest.New(t, claritytest.Testdata(t))
	c, err := clarity.New(srv.URL, claritytest.User, claritytest.Password, nil)
	require.NoError(t, err)
	root := t.TempDir()
	for _, f := range []string{"NA1/NA1_R1.fastq", "NA1/NA1_R2.fastq", "NA2/NA2_R1.fastq"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), []byte("@r1\nACGTACGT\n+\nIIIIIIII\n"), 0o644))
	}
	return limsexport.ClarityQueue{Client: c, QueueID: queueID, StageURI: srv.URL + "/api/v2/configuration/workflows/5/stages/12",
		ReadsRoot: root, UDFs: limsexport.DefaultClarityUDFs}, srv
}

func TestLimsExportFromClarity(t *testing.T) {
	q, srv := limsClarity(t, "1002")
	a, env := newLims(t, q)
	items := listLims(t, a, env, 2)
	require.Len(t, items, 3)
	assert.Equal(t, LimsItem{ID: "2-101", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1",
		PackageID: samplepkg.KindID(a.Hasher, samplepkg.KindSample, "Diag-wgs1-NA1")}, items[0])

	res, err := exportLims(t, a, env, items[0])
	require.NoError(t, err)
	sf := readSampleFile(t, res.Dir, "Diag-wgs1-NA1")
	assert.Len(t, sf.Reads, 2)
	var posted []claritytest.Request
	for _, r := range srv.Requests() {
		if r.Method == "POST" {
			posted = append(posted, r)
		}
	}
	require.Len(t, posted, 1, "marked once, after the package was written")
	assert.Equal(t, "/api/v2/route/artifacts", posted[0].Path)
	assert.Contains(t, posted[0].Body, `<artifact uri="`+srv.URL+`/api/v2/artifacts/2-101">`)

	res, err = exportLims(t, a, env, items[2])
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(a.ExportDir, "analyses", "Diag-wgs1-trio1", "Diag-wgs1-trio1.analysis"))
}

func TestLimsExportFromClarityRefusals(t *testing.T) {
	for id, errType := range map[string]string{"2-900": ErrMalformedLimsDocument, "2-901": ErrSampleWithoutReads,
		"2-902": ErrInvalidPackage, "2-903": ErrChecksumMismatch, "2-904": ErrInvalidPackage} {
		t.Run(id, func(t *testing.T) {
			q, srv := limsClarity(t, "1009")
			a, env := newLims(t, q)
			_, err := exportLims(t, a, env, LimsItem{ID: id})
			app := requireAppError(t, err, errType)
			assert.Contains(t, app.Error(), "LIMS item "+id)
			assert.Empty(t, dirTree(t, a.ExportDir))
			for _, r := range srv.Requests() {
				assert.Equal(t, "GET", r.Method, "not marked exported")
			}
		})
	}
}
