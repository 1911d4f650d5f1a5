package activities

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// TestFindExportPackagesReturnsOnlyCompleteSettledPackages lays out an export area with one
// package of each situation: complete ones of every kind, a sample without its .sample yet,
// an empty directory, a package whose file keeps growing during the scan, one already
// uploaded (its manifest is on the endpoint), and the lims-exporter's .tmp-* directories.
func TestFindExportPackagesReturnsOnlyCompleteSettledPackages(t *testing.T) {
	a := newUpload(t)
	writeExport(t, a, samplepkg.KindSample, "S1", map[string][]byte{"S1.sample": []byte("{}"), "R1.fastq.gz": []byte("r")})
	writeExport(t, a, samplepkg.KindSample, "S2-half", map[string][]byte{"R1.fastq.gz": []byte("r")})
	writeExport(t, a, samplepkg.KindSample, "S3-done", map[string][]byte{"S3-done.sample": []byte("{}")})
	s3test.Put(t, a.S3, a.Bucket, samplepkg.ManifestKey(samplepkg.KindSample, "S3-done"), []byte("{}"), nil)
	writeExport(t, a, samplepkg.KindAnalysis, "A1", map[string][]byte{"A1.analysis": []byte("{}"), "out/x.vcf": []byte("v")})
	writeExport(t, a, samplepkg.KindAnalysis, "A2-growing", map[string][]byte{"A2-growing.analysis": []byte("{}"), "x.vcf": []byte("v")})
	writeExport(t, a, samplepkg.KindEllaIncoming, "E1", map[string][]byte{"e.json": []byte("{}")})
	writeExport(t, a, samplepkg.KindBackup, "B1", map[string][]byte{"b.tar": []byte("b")})
	require.NoError(t, os.MkdirAll(filepath.Join(a.ExportDir, string(samplepkg.KindBackup), "B2-empty"), 0o755))
	writeExport(t, a, samplepkg.KindSample, ".tmp-123", map[string][]byte{"x": []byte("x")})
	require.NoError(t, os.MkdirAll(filepath.Join(a.ExportDir, ".tmp-456", "samples"), 0o755))

	grow := filepath.Join(a.ExportDir, string(samplepkg.KindAnalysis), "A2-growing", "x.vcf")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { // a pipeline still writing A2-growing
		defer close(done)
		f, err := os.OpenFile(grow, os.O_APPEND|os.O_WRONLY, 0)
		if !assert.NoError(t, err) {
			return
		}
		defer f.Close()
		for ctx.Err() == nil {
			_, _ = f.Write([]byte("more\n"))
			time.Sleep(20 * time.Millisecond)
		}
	}()
	page := runScan(t, a, ScanPage{Limit: 100})
	cancel()
	<-done
	assert.Equal(t, []ExportPackage{
		exportPkg(a, samplepkg.KindSample, "S1"),
		exportPkg(a, samplepkg.KindAnalysis, "A1"),
		exportPkg(a, samplepkg.KindEllaIncoming, "E1"),
		exportPkg(a, samplepkg.KindBackup, "B1"),
	}, page.Packages)
	assert.Equal(t, 3, page.Unsettled, "S2-half (no .sample), A2-growing (changing), B2-empty")
	assert.Empty(t, page.NextCursor, "the whole area fits one page")

	// Once the writers are done, the next run takes them.
	writeExport(t, a, samplepkg.KindSample, "S2-half", map[string][]byte{"S2-half.sample": []byte("{}")})
	page = runScan(t, a, ScanPage{})
	assert.Len(t, page.Packages, 6)
	assert.Equal(t, 1, page.Unsettled)
}

// TestFindExportPackagesPagesByCursor walks the area two packages at a time across kinds.
func TestFindExportPackagesPagesByCursor(t *testing.T) {
	a := newUpload(t)
	a.Settle = 10 * time.Millisecond
	for _, n := range []string{"B", "A", "C"} {
		writeExport(t, a, samplepkg.KindBackup, n, map[string][]byte{"f": []byte(n)})
	}
	writeExport(t, a, samplepkg.KindSample, "Z", map[string][]byte{"Z.sample": []byte("{}")})
	var got []ExportPackage
	var cursors []string
	page := ScanPage{Limit: 2}
	for i := 0; i < 5; i++ {
		res := runScan(t, a, page)
		got = append(got, res.Packages...)
		cursors = append(cursors, res.NextCursor)
		if res.NextCursor == "" {
			break
		}
		page.Cursor = res.NextCursor
	}
	assert.Equal(t, []ExportPackage{
		exportPkg(a, samplepkg.KindSample, "Z"),
		exportPkg(a, samplepkg.KindBackup, "A"),
		exportPkg(a, samplepkg.KindBackup, "B"),
		exportPkg(a, samplepkg.KindBackup, "C"),
	}, got)
	assert.Equal(t, []string{"backup/A", ""}, cursors, "a page ends where the area ends")

	_, err := uploadEnv(a).ExecuteActivity(a.FindExportPackages, ScanPage{Cursor: "nokind/../x"})
	requireErrType(t, err, ErrInvalidInput)
}

// exportPkg is the listing's form of a package, with its keyed-hash id.
func exportPkg(a *UploadActivities, kind samplepkg.Kind, name string) ExportPackage {
	return ExportPackage{Kind: kind, Name: name, PackageID: samplepkg.KindID(a.Hasher, kind, name)}
}
