package limsexport_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/clarity"
	"github.com/opsflow/opsflow/internal/clarity/claritytest"
	"github.com/opsflow/opsflow/internal/limsexport"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

func clarityQueue(t *testing.T, queueID string) (limsexport.ClarityQueue, *claritytest.Server) {
	srv := claritytest.New(t, claritytest.Testdata(t))
	c, err := clarity.New(srv.URL, claritytest.User, claritytest.Password, nil)
	require.NoError(t, err)
	root := t.TempDir()
	for _, f := range []string{"NA1/NA1_R1.fastq", "NA1/NA1_R2.fastq", "NA2/NA2_R1.fastq"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), []byte("@r\nACGT\n+\nIIII\n"), 0o644))
	}
	return limsexport.ClarityQueue{Client: c, QueueID: queueID, StageURI: srv.URL + "/api/v2/configuration/workflows/5/stages/12",
		ReadsRoot: root, UDFs: limsexport.DefaultClarityUDFs}, srv
}

func TestClarityQueuePagesAcrossLimsPages(t *testing.T) {
	q, _ := clarityQueue(t, "1002")
	ctx := context.Background()
	var all []limsexport.Entry
	cursor, pages := "", 0
	for {
		page, next, err := q.Pending(ctx, cursor, 2)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(page), 2)
		all = append(all, page...)
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, []limsexport.Entry{
		{ID: "2-101", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1"},
		{ID: "2-102", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA2"},
		{ID: "2-103", Kind: samplepkg.KindAnalysis, Name: "Diag-wgs1-trio1"},
	}, all)
	assert.Equal(t, 2, pages)

	one, next, err := q.Pending(ctx, "", 1)
	require.NoError(t, err)
	assert.Len(t, one, 1)
	assert.Equal(t, "1@", next, "the rest of the LIMS's first page")
}

func TestClarityQueueDescribes(t *testing.T) {
	q, _ := clarityQueue(t, "1002")
	ctx := context.Background()
	d, err := q.Describe(ctx, limsexport.Entry{ID: "2-101", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA1"})
	require.NoError(t, err)
	assert.Equal(t, limsexport.SampleDoc{Name: "Diag-wgs1-NA1", SampleID: "NA1", Project: "Diag-wgs1", ProjectDate: "2024-02-19",
		Flowcell: "A", FlowcellID: "HCVVLDSXY", SequencerID: "A01447", Lane: 1, Index: "UDI0001", Capturekit: "wgs",
		SequenceDate: "2024-03-01", Stats: limsexport.Stats{Reads: 412345678, Q30BasesPct: 93.12, MeanQualScore: 35.6,
			PerfectIndexReadsPct: 97.4, OneMismatchIndexPct: 2.1}}, *d.Sample)
	assert.Equal(t, []limsexport.SourceRead{
		{Source: filepath.Join(q.ReadsRoot, "NA1", "NA1_R1.fastq"), Path: "NA1_R1.fastq"},
		{Source: filepath.Join(q.ReadsRoot, "NA1", "NA1_R2.fastq"), Path: "NA1_R2.fastq"},
	}, d.Reads)

	d, err = q.Describe(ctx, limsexport.Entry{ID: "2-102", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA2"})
	require.NoError(t, err)
	assert.Equal(t, "0123456789abcdef0123456789abcdef", d.Reads[0].MD5, "md5sum form")
	assert.Equal(t, "NA2-taqman.csv", d.Sample.Taqman)

	d, err = q.Describe(ctx, limsexport.Entry{ID: "2-103", Kind: samplepkg.KindAnalysis, Name: "Diag-wgs1-trio1"})
	require.NoError(t, err)
	assert.Equal(t, limsexport.AnalysisDoc{Name: "Diag-wgs1-trio1", Type: "basepipe", Samples: []string{"Diag-wgs1-NA1", "Diag-wgs1-NA2"},
		Params: limsexport.AnalysisParams{Genepanel: "Mendel_v01"}, Priority: 2}, *d.Analysis)

	_, err = q.Describe(ctx, limsexport.Entry{ID: "2-101", Kind: samplepkg.KindSample, Name: "Diag-wgs1-NA9"})
	assert.ErrorIs(t, err, limsexport.ErrMalformed, "describes another package than listed")
}

func TestClarityQueueBadItems(t *testing.T) {
	q, _ := clarityQueue(t, "1009")
	ctx := context.Background()
	page, next, err := q.Pending(ctx, "", 10)
	require.NoError(t, err)
	assert.Empty(t, next)
	require.Len(t, page, 5)
	assert.Equal(t, limsexport.Entry{ID: "2-900", Kind: samplepkg.KindSample}, page[0], "malformed: listed without a name")
	want := map[string]error{"2-900": limsexport.ErrMalformed, "2-901": limsexport.ErrNoReads, "2-902": limsexport.ErrUnsafeName,
		"2-904": limsexport.ErrUnsafeName}
	for id, sentinel := range want {
		_, err := q.Describe(ctx, limsexport.Entry{ID: id})
		assert.ErrorIs(t, err, sentinel, id)
		assert.ErrorContains(t, err, "LIMS item "+id)
	}
	d, err := q.Describe(ctx, limsexport.Entry{ID: "2-903"})
	require.NoError(t, err)
	export := t.TempDir()
	_, err = limsexport.Writer{Root: export}.Write(ctx, "h-903", d, nil)
	assert.ErrorIs(t, err, limsexport.ErrChecksumMismatch)
	assert.Empty(t, tree(t, export))

	_, err = q.Describe(ctx, limsexport.Entry{ID: "2-404"})
	assert.True(t, clarity.IsNotFound(err), "a missing artifact is not a malformed one: %v", err)
	assert.NotErrorIs(t, err, limsexport.ErrMalformed)
}

func TestClarityQueueMarkExportedUnassignsOnce(t *testing.T) {
	q, srv := clarityQueue(t, "1002")
	ctx := context.Background()
	require.NoError(t, q.MarkExported(ctx, limsexport.Entry{ID: "2-101"}))
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "GET /api/v2/artifacts/2-101", reqs[0].Method+" "+reqs[0].Path)
	assert.Equal(t, "POST /api/v2/route/artifacts", reqs[1].Method+" "+reqs[1].Path)
	assert.Contains(t, reqs[1].Body, `<unassign stage-uri="`+q.StageURI+`"><artifact uri="`+srv.URL+`/api/v2/artifacts/2-101"></artifact></unassign>`)

	// 2-102's export stage is REMOVED already (an earlier attempt unassigned it): nothing posted.
	require.NoError(t, q.MarkExported(ctx, limsexport.Entry{ID: "2-102"}))
	assert.Len(t, srv.Requests(), 3)
}
