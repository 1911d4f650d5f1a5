//go:build e2e

package e2e

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
	"github.com/opsflow/opsflow/workflows"
)

// importKillPoints is one package's import killed at each step boundary, inside the copy
// and the verification (they resume from their heartbeats), and after each step's body
// (staged, verified, published: each then runs again).
var importKillPoints = []string{
	"before:FetchPackage", "mid:FetchPackage", "after:FetchPackage",
	"before:VerifyPackage", "mid:VerifyPackage", "after:VerifyPackage",
	"before:PublishPackage", "after:PublishPackage",
}

// crashPackageImport imports a package of three 8 MiB reads, which the crash workers fetch at
// 8 MB/s (so the copy heartbeats several times), through importKillPoints, then checks it was
// imported once: the run completed, the published directory holds exactly the package's
// files with their SHA-256s and READY once, nothing is quarantined and no staging is left.
func crashPackageImport(t *testing.T, m *crashMatrix) {
	d := newDeployment(t)
	r := m.newRun(t, d, "PackageImport")
	c, err := s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	require.NoError(t, s3store.EnsureBucket(context.Background(), c, d.importBucket))
	name := fmt.Sprintf("Diag-wgs%d-NA12878-CRASH", time.Now().UnixNano()%1000000)
	files := plantLargeSamplePackage(t, c, d.importBucket, name, 3, 8<<20)
	r.slowS3Downloads(8 << 10) // 8 MB/s: the copy takes 3 s

	out, err := d.starter("import", "--package", name)
	require.NoError(t, err, out)
	id := regexp.MustCompile(`workflow id: (\S+)`).FindStringSubmatch(out)[1]

	r.crashThrough(id, importKillPoints...)

	var res workflows.PackageImportResult
	require.NoError(t, d.client.GetWorkflow(waitCtx(t, 3*time.Minute), id, "").Get(waitCtx(t, 3*time.Minute), &res), "the import completes after its crashes")
	r.measure()
	r.check("run completed")
	assert.Equal(t, len(files), res.Files)

	durable := filepath.Join(d.dir, "durable")
	published := filepath.Join(durable, "samples", name)
	want := []string{"READY"}
	for p := range files {
		want = append(want, p)
	}
	sort.Strings(want)
	assert.Equal(t, want, crashDirNames(t, published), "the package's files and READY, once, nothing else")
	for p, sum := range files {
		got := sha256.New()
		f, err := os.ReadFile(filepath.Join(published, p))
		require.NoError(t, err)
		got.Write(f)
		assert.Equal(t, sum, hex.EncodeToString(got.Sum(nil)), "%s as uploaded", p)
	}
	r.check("the package's files once, each with its SHA-256, and READY")
	assert.NoDirExists(t, filepath.Join(durable, ".quarantine"), "nothing quarantined")
	if _, err := os.Stat(filepath.Join(durable, ".staging")); err == nil {
		assert.Empty(t, crashDirNames(t, filepath.Join(durable, ".staging")), "no staging left")
	}
	r.check("nothing quarantined, no staging left")
}

// plantLargeSamplePackage uploads a sample package of n random reads of size bytes, its
// .sample and its manifest, and returns every file's SHA-256 by path.
func plantLargeSamplePackage(t *testing.T, c *s3.Client, bucket, name string, n, size int) map[string]string {
	t.Helper()
	sums := map[string]string{}
	sample := samplepkg.SampleFile{Name: name}
	m := samplepkg.Manifest{Kind: samplepkg.KindSample, Package: name}
	put := func(p string, body []byte) {
		s3test.Put(t, c, bucket, samplepkg.ObjectPrefix(samplepkg.KindSample, name)+p, body, nil)
		sha := sha256.Sum256(body)
		sums[p] = hex.EncodeToString(sha[:])
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: p, Size: int64(len(body)), SHA256: sums[p]})
	}
	for i := 1; i <= n; i++ {
		body := make([]byte, size)
		_, _ = rand.Read(body)
		p := fmt.Sprintf("%s_R%d.fastq.gz", name, i)
		sum := md5.Sum(body)
		sample.Reads = append(sample.Reads, samplepkg.Read{Path: p, MD5: hex.EncodeToString(sum[:]), Size: int64(size)})
		put(p, body)
	}
	sf, err := json.Marshal(sample)
	require.NoError(t, err)
	put(samplepkg.SampleFileName(name), sf)
	data, err := m.Encode()
	require.NoError(t, err)
	s3test.Put(t, c, bucket, samplepkg.ManifestKey(samplepkg.KindSample, name), data, nil)
	return sums
}
