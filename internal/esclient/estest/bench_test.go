package estest_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/esclient/estest"
)

// The benchmarks measure what the demo and the end-to-end benchmark ask of
// estest-server: bulk-indexing a rebuild of small doctor documents and counting a large
// index through a filtered alias while it is read. Client and server share the process,
// so the docs/s figure includes olivere's encoding. Run with
//
//	go test -run XXX -bench . ./internal/esclient/estest

func benchDoc(i int) esclient.Doc {
	id := strconv.Itoa(i)
	return esclient.Doc{ID: id, Source: map[string]any{
		"id": id, "gmcReferenceNumber": "G" + id, "doctorFirstName": "First" + id, "doctorLastName": "Last",
		"programmeName": "General Practice", "submissionDate": "2025-11-10", "membershipType": "MILITARY",
		"designatedBody": "1-AIIDR8", "gmcStatus": "Approved", "tisStatus": "NOT_STARTED", "admin": "admin@example.org",
		"underNotice": "NO", "tcsDesignatedBody": "1-AIIDR8", "programmeOwner": "North East", "placementGrade": "ST3",
		"existsInGmc": i%3 != 0, "lastConnectionDateTime": "2025-11-10T09:30:00.000",
	}}
}

func benchIndex(b *testing.B) (*esclient.Client, string) {
	b.Helper()
	ts := httptest.NewServer(estest.NewHandler(b.Logf))
	b.Cleanup(ts.Close)
	c, err := esclient.New(ts.URL)
	if err != nil {
		b.Fatal(err)
	}
	name := "masterdoctorindex-20260101000000"
	if err := c.CreateIndex(context.Background(), name, esclient.MasterDoctorMapping()); err != nil {
		b.Fatal(err)
	}
	if err := c.SwitchAliases(context.Background(), esclient.RevalidationAliases(name)); err != nil {
		b.Fatal(err)
	}
	return c, name
}

func bulk(b *testing.B, c *esclient.Client, index string, from, n int) {
	docs := make([]esclient.Doc, n)
	for i := range docs {
		docs[i] = benchDoc(from + i)
	}
	res, err := c.BulkIndex(context.Background(), index, docs)
	if err != nil || len(res.Failed) > 0 {
		b.Fatal(err, res.Failed)
	}
}

// BenchmarkBulkIndex indexes 1000-document bulks (one op = one document).
func BenchmarkBulkIndex(b *testing.B) {
	c, name := benchIndex(b)
	b.ResetTimer()
	for from := 0; from < b.N; from += 1000 {
		bulk(b, c, name, from, min(1000, b.N-from))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkCountFilteredAlias300k counts current_connections over 300 000 documents
// after each small write and refresh: the incremental count cache at work.
func BenchmarkCountFilteredAlias300k(b *testing.B) {
	c, name := benchIndex(b)
	ctx := context.Background()
	const n = 300000
	for from := 0; from < n; from += 5000 {
		bulk(b, c, name, from, 5000)
	}
	b.ResetTimer()
	for i := range b.N {
		bulk(b, c, name, n+i, 1)
		if err := c.Refresh(ctx, name); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Count(ctx, esclient.CurrentConnectionsAlias); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBulkUpsert applies 250-document partial updates (the GMC phase of a rebuild)
// to existing documents (one op = one document).
func BenchmarkBulkUpsert(b *testing.B) {
	c, name := benchIndex(b)
	for from := 0; from < b.N; from += 5000 {
		bulk(b, c, name, from, min(5000, b.N-from))
	}
	b.ResetTimer()
	for from := 0; from < b.N; from += 250 {
		docs := make([]esclient.Doc, min(250, b.N-from))
		for i := range docs {
			docs[i] = esclient.Doc{ID: strconv.Itoa(from + i), Source: map[string]any{
				"gmcStatus": "Approved", "existsInGmc": true, "submissionDate": "2026-01-01", "underNotice": "YES"}}
		}
		res, err := c.BulkUpsert(context.Background(), name, docs)
		if err != nil || len(res.Failed) > 0 {
			b.Fatal(err, res.Failed)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
