//go:build e2e

package e2e

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// TestSamplePackageImportKeepsTheNameOutOfHistory imports a package named after a planted
// sample through the starter, then checks the name appears nowhere the codec does not cover:
// workflow id, search attributes, raw history, worker log; and that `opsflow find --sample`
// still finds the run. A second package with a bad checksum fails, gets no READY, is
// quarantined with a report, and its name is not in its raw history either.
func TestSamplePackageImportKeepsTheNameOutOfHistory(t *testing.T) {
	d := newDeployment(t)
	d.startWorker()
	stamp := time.Now().UnixNano() % 1000000
	good := fmt.Sprintf("Diag-wgs%d-NA12878-PLANTED", stamp)
	bad := fmt.Sprintf("Diag-wgs%d-NA24385-PLANTED", stamp)
	c, err := s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the worker creates the import bucket at start
		_, err := c.HeadBucket(context.Background(), headBucket(d.importBucket))
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	plant := func(name, body, md5hex string) { plantSamplePackage(t, c, d.importBucket, name, body, md5hex) }
	sum := md5.Sum([]byte("@r1\nACGT\n+\nIIII\n"))
	plant(good, "@r1\nACGT\n+\nIIII\n", hex.EncodeToString(sum[:]))
	plant(bad, "@r1\nACGT\n+\nIIII\n", "0123456789abcdef0123456789abcdef")

	out, err := d.starter("import", "--package", good, "--wait")
	require.NoError(t, err, out)
	assert.Contains(t, out, "status: COMPLETED")
	id := regexp.MustCompile(`workflow id: (\S+)`).FindStringSubmatch(out)[1]
	assert.Regexp(t, `^import-h-[0-9a-f]{16}$`, id)
	assert.FileExists(t, filepath.Join(d.dir, "durable", "samples", good, "READY"))

	raw := d.temporalCLI("workflow", "show", "--workflow-id", id, "--output", "json")
	described := d.temporalCLI("workflow", "describe", "--workflow-id", id, "--output", "json")
	for what, text := range map[string]string{"history": raw + payloadData(t, raw), "search attributes": described + payloadData(t, described)} {
		assert.NotContains(t, text, "NA12878", "%s names the sample in clear", what)
	}
	assert.Contains(t, payloadData(t, described), id[len("import-"):], "OpsflowPackage holds the hash")

	// Started from the plain CLI, the run still records its hash and environment itself.
	cliName := fmt.Sprintf("Diag-wgs%d-NA19240-PLANTED", stamp)
	plant(cliName, "@r1\nACGT\n+\nIIII\n", hex.EncodeToString(sum[:]))
	cliID := "import-cli-" + d.taskQueue
	d.temporalCLI("workflow", "start", "--type", "PackageImport", "--task-queue", d.taskQueue,
		"--workflow-id", cliID, "--input", fmt.Sprintf(`{"package":%q}`, cliName))
	require.NoError(t, d.client.GetWorkflow(waitCtx(t, time.Minute), cliID, "").Get(waitCtx(t, time.Minute), nil))
	assertListed(t, d, fmt.Sprintf(`OpsflowProcedure = "PackageImport" AND OpsflowEnvironment = %q AND WorkflowId = %q`, d.environment, cliID), cliID)

	out, err = d.starter("find", "--sample", good)
	require.NoError(t, err, out)
	assert.Contains(t, out, id)
	assert.Contains(t, out, "1 run(s)")

	out, err = d.starter("import", "--package", bad, "--wait")
	require.Error(t, err, out)
	assert.Contains(t, out, "ChecksumMismatch")
	badID := regexp.MustCompile(`workflow id: (\S+)`).FindStringSubmatch(out)[1]
	assert.NoDirExists(t, filepath.Join(d.dir, "durable", "samples", bad), "no READY on unverified data")
	assert.Contains(t, out, "package quarantined in")
	quarantine := filepath.Join(d.dir, "durable", ".quarantine", "samples", strings.TrimPrefix(badID, "import-"))
	assert.FileExists(t, filepath.Join(quarantine, "REPORT.json"), "the refused package is quarantined with a report")
	assert.FileExists(t, filepath.Join(quarantine, bad+"_R1.fastq.gz"))
	rawBad := d.temporalCLI("workflow", "show", "--workflow-id", badID, "--output", "json")
	assert.Contains(t, rawBad, "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED")
	assert.NotContains(t, rawBad+payloadData(t, rawBad), "NA24385", "the failure message is encrypted")

	log, err := os.ReadFile(filepath.Join(d.dir, "worker.log"))
	require.NoError(t, err)
	assert.NotContains(t, string(log), "NA12878")
	assert.NotContains(t, string(log), "NA24385")
}

// plantSamplePackage uploads a sample package as the nsc-exporter does: one read (body, listed
// in the .sample with md5hex) and the .sample under samples/<name>/, then its manifest.
func plantSamplePackage(t *testing.T, c *s3.Client, bucket, name, body, md5hex string) {
	t.Helper()
	files := map[string]string{
		name + "_R1.fastq.gz": body,
		name + ".sample": fmt.Sprintf(`{"name":%q,"reads":[{"path":%q,"md5":%q,"size":%d}]}`,
			name, name+"_R1.fastq.gz", md5hex, len(body)),
	}
	m := samplepkg.Manifest{Kind: samplepkg.KindSample, Package: name}
	for p, content := range files {
		s3test.Put(t, c, bucket, samplepkg.ObjectPrefix(samplepkg.KindSample, name)+p, []byte(content), nil)
		sha := sha256.Sum256([]byte(content))
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: p, Size: int64(len(content)), SHA256: hex.EncodeToString(sha[:])})
	}
	data, err := m.Encode()
	require.NoError(t, err)
	s3test.Put(t, c, bucket, samplepkg.ManifestKey(samplepkg.KindSample, name), data, nil)
}
