//go:build e2e

package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/leakscan"
	"github.com/opsflow/opsflow/internal/watchers"
)

// TestSecurityNoSecretInClearE2E runs every procedure once, each in a deployment of its own,
// in parallel, and checks that none of its secrets (sample and package names, doctors' names
// and GMC numbers, participant data, the codec token and keys, the identifier key, the S3
// secret key, the supervisord, LIMS and ELLA database passwords) appears, in clear, base64
// (std or URL alphabet), URL- or JSON-escaped, in the raw histories of the runs and their
// children (read without the codec), their visibility records (ids, search attributes, memo),
// the workers' and the starter's logs, the workers' /metrics, the schedules' descriptions and
// ELLA's e-mails. Where a secret travels in payloads, the same history read through the codec
// server must name it, so the raw check is made on data that really carries it. The log ends
// with the procedure × place table (also written to $OPSFLOW_SECURITY_REPORT when set).
//
// Elsewhere: TestHistoryHoldsNoClearText (a marker in a release's input and failure),
// TestSamplePackageImportKeepsTheNameOutOfHistory and TestWatchersMovePackagesFromTheLimsQueueToReady
// (sample names in ids, search attributes, worker log), assertNoSecret in the ELLA tests (the
// database and supervisord passwords in e-mails), TestSecurityCodecServer* (the codec server).
func TestSecurityNoSecretInClearE2E(t *testing.T) {
	report := &leakReport{}
	t.Cleanup(func() {
		table := "procedure × place, every secret looked for in clear, base64, base64url, URL- and JSON-escaped:\n\n" + report.table()
		t.Log(table)
		if path := os.Getenv("OPSFLOW_SECURITY_REPORT"); path != "" { // make test-security
			require.NoError(t, os.WriteFile(path, []byte(table), 0o644))
		}
	})
	for _, p := range []struct {
		name string
		run  func(*testing.T, *leakReport)
	}{
		{"Release", securityRelease},
		{"ImportAndMovers", securityImportAndMovers},
		{"Bridge", securityBridge},
		{"Revalidation", securityRevalidation},
		{"Ella", securityElla},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			p.run(t, report)
		})
	}
}

// securityRelease: one release to NSC (ReleaseDeploy and its SiteLock child); the sites'
// supervisord password is in the worker's sites file.
func securityRelease(t *testing.T, report *leakReport) {
	d := newDeployment(t)
	c := newLeakCheck(t, d, "release", report)
	c.secret("supervisord password", d.sup.Password)
	d.startWorker()
	out, err := c.starter("release", "--version", "v1.0.0-rel", "--sites", "nsc", "--workflow-id", "release-sec-"+d.taskQueue, "--wait")
	require.NoError(t, err, out)
	assert.Contains(t, out, "status: COMPLETED")
	c.expect("ReleaseDeploy", "SiteLock")
	c.check()
}

// securityImportAndMovers: `opsflow import` of a good and a corrupt package (its failure
// message names the file), then two samples from the LIMS queue through the three watchers'
// schedules (LimsExportScan, NSCExportScan, FilelockScan and their children); the worker has
// a LIMS password configured.
func securityImportAndMovers(t *testing.T, report *leakReport) {
	m := newMoversDeployment(t)
	c := newLeakCheck(t, m.deployment, "import + movers", report)
	lims := fmt.Sprintf("lims-pw-%d-planted", m.stamp)
	m.env = append(m.env, "OPSFLOW_LIMS_PASSWORD="+lims)
	c.secret("LIMS password", lims)
	m.startWorker()

	good, bad := fmt.Sprintf("Diag-sec%d-NA12878", m.stamp), fmt.Sprintf("Diag-sec%d-NA24385", m.stamp)
	c.secret("sample name", good)
	c.secret("sample name", bad)
	require.Eventually(t, func() bool { // the worker creates the import bucket at start
		_, err := m.s3.HeadBucket(context.Background(), headBucket(m.importBucket))
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	body := "@r1\nACGT\n+\nIIII\n"
	sum := md5.Sum([]byte(body))
	plantSamplePackage(t, m.s3, m.importBucket, good, body, hex.EncodeToString(sum[:]))
	plantSamplePackage(t, m.s3, m.importBucket, bad, body, "0123456789abcdef0123456789abcdef")
	out, err := c.starter("import", "--package", good, "--wait")
	require.NoError(t, err, out)
	out, err = c.starter("import", "--package", bad, "--wait")
	require.Error(t, err, out)
	assert.Contains(t, out, "ChecksumMismatch")

	for i := range 2 {
		name := fmt.Sprintf("Diag-sec%d-%d-NA19240", m.stamp, i)
		c.secret("sample name", name)
		m.queueSample(t, name, 8<<10, 4<<10)
	}
	out, err = c.starter("schedules", "apply")
	require.NoError(t, err, out)
	for _, w := range []string{"lims-exporter", "nsc-exporter", "filelock-exporter"} {
		out, err := c.starter("schedules", "trigger", w, "--wait", "--timeout", "5m")
		require.NoError(t, err, out)
	}
	for _, w := range watchers.All {
		c.schedules = append(c.schedules, watchers.ScheduleID(w.Name, m.environment))
	}
	c.expect("PackageImport", "LimsExportScan", "LimsPackageExport", "NSCExportScan", "PackageUpload", "FilelockScan")
	c.decodedNames("PackageImport", "sample name")
	c.decodedNames("LimsPackageExport", "sample name")
	c.check()
}

// securityBridge: one archive notified, one found by the sweep, both converted to Parquet,
// each with a participant's healthCode in its S3 metadata and a planted answer in
// taskResult.json; both reach the data bucket (checked), neither anything else.
func securityBridge(t *testing.T, report *leakReport) {
	b := newBridgeDeployment(t)
	c := newLeakCheck(t, b.deployment, "Bridge", report)
	b.startWorker()
	var participant []leakscan.Secret
	archive := func(n int) bridgedata.Archive {
		spec := bridgedata.Spec{RecordID: fmt.Sprintf("%s-sec%d", bridgedata.RecordID(n), b.stamp)}
		health, answer := fmt.Sprintf("healthCode-%d-%d-planted", b.stamp, n), fmt.Sprintf("answer%dx%d", b.stamp, n)
		participant = append(participant, leakscan.Secret{Name: "participant healthCode", Value: health},
			leakscan.Secret{Name: "participant answer", Value: answer})
		c.secret("participant healthCode", health)
		c.secret("participant answer", answer)
		return withParticipantData(t, bridgedata.Good(spec), health, answer)
	}
	b.notify(t, b.upload(t, archive(1)))
	out, err := c.starter("schedules", "trigger", "bridge-notifications", "--wait", "--timeout", "5m")
	require.NoError(t, err, out)
	b.archiveRuns(t, 1)
	b.upload(t, archive(2)) // not notified: the sweep finds it
	out, err = c.starter("schedules", "trigger", "bridge-sweep", "--wait", "--timeout", "5m")
	require.NoError(t, err, out)
	b.archiveRuns(t, 2)
	out, err = c.starter("schedules", "trigger", "bridge-parquet", "--wait", "--timeout", "5m")
	require.NoError(t, err, out)

	// The participant data went through the runs: it is in the datasets they wrote.
	var written bytes.Buffer
	for _, key := range b.keys(t, bridge.RawJSONPrefix) {
		obj, err := b.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b.data), Key: aws.String(key)})
		require.NoError(t, err)
		_, err = io.Copy(&written, obj.Body)
		obj.Body.Close()
		require.NoError(t, err)
	}
	found := map[string]bool{}
	for _, f := range leakscan.Must(participant...).Scan("raw_json", written.Bytes()) {
		found[f.Secret] = true
	}
	assert.True(t, found["participant healthCode"] && found["participant answer"],
		"the planted participant data is not in the datasets (found %v): the check proves nothing", found)

	for _, w := range watchers.All {
		c.schedules = append(c.schedules, watchers.ScheduleID(w.Name, b.environment))
	}
	c.expect("BridgeNotificationPoll", "BridgeArchiveSweep", "BridgeArchiveToJSON", "BridgeParquetScan", "BridgeJSONToParquet")
	c.check()
}

// withParticipantData gives an archive a participant's healthCode (S3 metadata, as Bridge
// exports it) and an answer in taskResult.json.
func withParticipantData(t *testing.T, a bridgedata.Archive, health, answer string) bridgedata.Archive {
	a.Metadata = maps.Clone(a.Metadata)
	a.Metadata["healthcode"] = health
	a.Files = maps.Clone(a.Files)
	old := a.Files["taskResult.json"]
	require.Contains(t, string(old), `"house"`)
	a.Files["taskResult.json"] = bytes.ReplaceAll(old, []byte(`"house"`), []byte(strconv.Quote(answer)))
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, name := range a.Names {
		fw, err := w.Create(name)
		require.NoError(t, err)
		_, err = fw.Write(a.Files[name])
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	a.Zip = buf.Bytes()
	return a
}
