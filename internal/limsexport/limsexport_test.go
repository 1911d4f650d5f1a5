package limsexport_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// demoQueue copies testdata/lims-queue to a scratch directory (exporting consumes it).
func demoQueue(t *testing.T) limsexport.DirQueue {
	dir := filepath.Join(t.TempDir(), "queue")
	out, err := exec.Command("cp", "-r", "../../testdata/lims-queue", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return limsexport.DirQueue{Dir: dir}
}

func tree(t *testing.T, root string) []string {
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

func TestDirQueuePagesDescribesAndMarks(t *testing.T) {
	q := demoQueue(t)
	ctx := context.Background()
	page, next, err := q.Pending(ctx, "", 2)
	require.NoError(t, err)
	assert.Equal(t, []limsexport.Entry{
		{ID: "A0001", Kind: samplepkg.KindAnalysis, Name: "Diag-wgs1-trio1"},
		{ID: "S0001", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1"},
	}, page)
	assert.Equal(t, "S0001", next)
	page, next, err = q.Pending(ctx, next, 2)
	require.NoError(t, err)
	assert.Equal(t, []limsexport.Entry{{ID: "S0002", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA2"}}, page)
	assert.Empty(t, next)

	d, err := q.Describe(ctx, page[0])
	require.NoError(t, err)
	require.Len(t, d.Reads, 2)
	assert.Equal(t, filepath.Join(q.Dir, "reads", "NA2_R1.fastq"), d.Reads[0].Source, "relative to the queue directory")
	assert.Equal(t, "NA2_R1.fastq", d.Reads[0].Path)

	require.NoError(t, q.MarkExported(ctx, page[0]))
	require.NoError(t, q.MarkExported(ctx, page[0]), "marking twice is no error")
	assert.FileExists(t, filepath.Join(q.Dir, limsexport.DoneDir, "S0002.json"))
	again, err := q.Describe(ctx, limsexport.Entry{ID: "S0002", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA2"})
	require.NoError(t, err, "a retry after the mark (its completion lost) still describes the item")
	assert.Equal(t, d, again)
	page, _, err = q.Pending(ctx, "", 10)
	require.NoError(t, err)
	assert.Len(t, page, 2)
}

func TestWriterWritesAPackageTheImportAccepts(t *testing.T) {
	q := demoQueue(t)
	ctx := context.Background()
	export := t.TempDir()
	w := limsexport.Writer{Root: export}
	d, err := q.Describe(ctx, limsexport.Entry{ID: "S0001", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1"})
	require.NoError(t, err)
	var seen int64
	res, err := w.Write(ctx, "h-0001", d, func(_ string, n int64) { seen = n })
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(export, "samples", "Diag-wgs1-NA1"), res.Dir)
	assert.Equal(t, 3, res.Files)
	assert.Equal(t, int64(4200), seen)
	assert.Equal(t, []string{"samples", "samples/Diag-wgs1-NA1", "samples/Diag-wgs1-NA1/Diag-wgs1-NA1.sample",
		"samples/Diag-wgs1-NA1/NA1_R1.fastq", "samples/Diag-wgs1-NA1/NA1_R2.fastq"}, tree(t, export), "no temporary or lock file left")

	data, err := os.ReadFile(filepath.Join(res.Dir, "Diag-wgs1-NA1.sample"))
	require.NoError(t, err)
	sf, err := samplepkg.ParseSampleFile("Diag-wgs1-NA1.sample", data)
	require.NoError(t, err)
	require.Len(t, sf.Reads, 2)
	for _, r := range sf.Reads {
		body, err := os.ReadFile(filepath.Join(res.Dir, r.Path))
		require.NoError(t, err)
		sum := md5.Sum(body)
		assert.Equal(t, hex.EncodeToString(sum[:]), r.MD5)
		assert.Equal(t, int64(len(body)), r.Size)
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	for _, k := range []string{"name", "sample_id", "project", "project_date", "flowcell", "flowcell_id", "sequencer_id", "lane", "index", "capturekit", "sequence_date", "taqman", "stats", "reads"} {
		assert.Contains(t, doc, k)
	}

	again, err := w.Write(ctx, "h-0001", d, nil)
	require.NoError(t, err)
	assert.True(t, again.AlreadyExported, "an identical package is an earlier attempt's")

	d.Sample.Lane = 7
	_, err = w.Write(ctx, "h-0001", d, nil)
	assert.ErrorIs(t, err, limsexport.ErrConflict)
	assert.ErrorContains(t, err, "LIMS item S0001")
	assert.Len(t, tree(t, export), 5, "the conflict left nothing")
}

func TestWriterAnalysis(t *testing.T) {
	q := demoQueue(t)
	export := t.TempDir()
	d, err := q.Describe(context.Background(), limsexport.Entry{ID: "A0001"})
	require.NoError(t, err)
	res, err := limsexport.Writer{Root: export}.Write(context.Background(), "h-a1", d, nil)
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(res.Dir, "Diag-wgs1-trio1.analysis"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Diag-wgs1-trio1","type":"basepipe","samples":["Diag-wgs1-NA1","Diag-wgs1-NA2"],
		"params":{"genepanel":"Mendel_v01","taqman":false},"priority":2}`, string(data))
}

func TestRefusalsWriteNothing(t *testing.T) {
	ctx := context.Background()
	q := demoQueue(t)
	d, err := q.Describe(ctx, limsexport.Entry{ID: "S0001"})
	require.NoError(t, err)
	clone := func(f func(*limsexport.Description)) limsexport.Description {
		c := d
		s := *d.Sample
		c.Sample = &s
		c.Reads = append([]limsexport.SourceRead(nil), d.Reads...)
		f(&c)
		return c
	}
	for name, tc := range map[string]struct {
		d    limsexport.Description
		want error
	}{
		"no reads":        {clone(func(c *limsexport.Description) { c.Reads = nil }), limsexport.ErrNoReads},
		"name ../x":       {clone(func(c *limsexport.Description) { c.Sample.Name = "../x" }), limsexport.ErrUnsafeName},
		"name a/b":        {clone(func(c *limsexport.Description) { c.Sample.Name = "a/b" }), limsexport.ErrUnsafeName},
		"read ../r":       {clone(func(c *limsexport.Description) { c.Reads[0].Path = "../r" }), limsexport.ErrUnsafeName},
		"read twice":      {clone(func(c *limsexport.Description) { c.Reads[1].Path = c.Reads[0].Path }), limsexport.ErrMalformed},
		"no project":      {clone(func(c *limsexport.Description) { c.Sample.Project = "" }), limsexport.ErrMalformed},
		"md5 mismatch":    {clone(func(c *limsexport.Description) { c.Reads[1].MD5 = "0123456789abcdef0123456789abcdef" }), limsexport.ErrChecksumMismatch},
		"analysis kind":   {clone(func(c *limsexport.Description) { c.Kind = samplepkg.KindAnalysis }), limsexport.ErrMalformed},
		"relative source": {clone(func(c *limsexport.Description) { c.Reads[0].Source = "reads/x" }), limsexport.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			export := t.TempDir()
			_, err := limsexport.Writer{Root: export}.Write(ctx, "h-0001", tc.d, nil)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, "LIMS item S0001")
			assert.Empty(t, tree(t, export))
		})
	}
}

func TestDirQueueMalformedFile(t *testing.T) {
	q := demoQueue(t)
	require.NoError(t, os.WriteFile(filepath.Join(q.Dir, "S0009.json"), []byte(`{"kind":"samples","sample":{"name":`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(q.Dir, "S0010.json"), []byte(`{"kind":"samples","sampel":{}}`), 0o644))
	page, _, err := q.Pending(context.Background(), "S0002", 10)
	require.NoError(t, err)
	assert.Equal(t, []limsexport.Entry{{ID: "S0009", Kind: samplepkg.KindSample}, {ID: "S0010", Kind: samplepkg.KindSample}}, page, "listed without a name")
	for _, e := range page {
		_, err = q.Describe(context.Background(), e)
		assert.ErrorIs(t, err, limsexport.ErrMalformed)
		assert.ErrorContains(t, err, "LIMS item "+e.ID)
	}
}
