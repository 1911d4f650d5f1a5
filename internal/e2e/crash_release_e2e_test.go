//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
	"github.com/opsflow/opsflow/workflows"
)

// releaseKillPoints is a first release to both sites, killed at every step boundary of the
// first site (nsc) and of the central steps, inside the export and the archive download, after
// each step with a side effect (tag pushed, artifact stored, archive written, services stopped,
// version switched, services started: each then runs again), and at the second site's first step.
var releaseKillPoints = []string{
	"before:CreateReleaseTag", "after:CreateReleaseTag",
	"before:PlanRelease",
	"before:ExportArtifact", "mid:ExportArtifact", "after:ExportArtifact",
	"before:SiteLock",
	"before:DeployedVersion",
	"before:ArchiveArtifact", "mid:ArchiveArtifact", "after:ArchiveArtifact",
	"before:StopServices", "after:StopServices",
	"before:ExtractRelease", "after:ExtractRelease",
	"before:StartServices", "after:StartServices",
	"before:DeployedVersion#2",
}

// crashReleaseDeploy releases v1.0.0-rel (with a 3 MiB incompressible file, so the archive
// download heartbeats several times) through releaseKillPoints, then checks that it was done
// once: one tag at the release commit, one artifact object (no multipart upload left), and on
// each site one archive matching the artifact, one release directory, the link on it, the
// services RUNNING, no temporary names and no pins left.
func crashReleaseDeploy(t *testing.T, m *crashMatrix) {
	d := newDeployment(t)
	r := m.newRun(t, d, "ReleaseDeploy")
	blob := make([]byte, 3<<20)
	_, _ = rand.Read(blob)
	commit := d.repo.Commit(t, "nsc-exporter: reference data", map[string]string{"nsc-exporter/reference.bin": string(blob)})
	const version = "v1.0.0-rel"
	id := "release-" + version + "-" + d.taskQueue
	d.temporalCLI("workflow", "start", "--type", "ReleaseDeploy", "--task-queue", d.taskQueue,
		"--workflow-id", id, "--input", `{"version":"`+version+`"}`)

	r.crashThrough(id, releaseKillPoints...)

	var res workflows.ReleaseDeployResult
	require.NoError(t, d.client.GetWorkflow(waitCtx(t, 4*time.Minute), id, "").Get(waitCtx(t, 4*time.Minute), &res), "the release completes after its crashes")
	r.measure()
	r.check("run completed")
	require.Len(t, res.Sites, 2)
	for _, s := range res.Sites {
		assert.True(t, s.Deployed, "site %s deployed", s.Site)
	}

	tags := strings.Fields(d.repo.Git(t, "ls-remote", "--tags", "origin"))
	assert.Equal(t, []string{d.repo.Git(t, "rev-parse", version), "refs/tags/" + version, commit, "refs/tags/" + version + "^{}"}, tags,
		"one annotated tag on origin, at the release commit")
	r.check("one tag at the release commit")

	c, err := s3store.New(context.Background(), s3test.Config())
	require.NoError(t, err)
	key := "tsd-import/" + version + "/tsd-import-" + version + ".tar.gz"
	assert.Equal(t, []string{key}, crashListKeys(t, c, d.bucket, ""), "one artifact object")
	ups, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(d.bucket)})
	require.NoError(t, err)
	assert.Empty(t, ups.Uploads, "no multipart upload left behind")
	assert.Equal(t, res.Artifact.Key, key)
	r.check("one artifact object, no multipart upload left")

	sup := d.sup.Client(t)
	for site, svcs := range services {
		assertRuns(t, d, site, version)
		sw := filepath.Join(d.siteDir(site), "sw")
		assert.Equal(t, []string{"tsd-import-" + version + ".tar.gz"}, crashDirNames(t, filepath.Join(sw, "archive")), "site %s: one archive", site)
		sum, _, err := checksum.SHA256File(filepath.Join(sw, "archive", "tsd-import-"+version+".tar.gz"))
		require.NoError(t, err)
		assert.Equal(t, res.Artifact.SHA256, sum, "site %s: the archive is the artifact", site)
		releases := crashDirNames(t, filepath.Join(sw, "releases"))
		assert.Equal(t, []string{"tsd-import-" + version}, slices.DeleteFunc(slices.Clone(releases), func(n string) bool { return n == ".pins" }), "site %s: one release directory, no staging left", site)
		if slices.Contains(releases, ".pins") {
			assert.Empty(t, crashDirNames(t, filepath.Join(sw, "releases", ".pins")), "site %s: no rollback pin left", site)
		}
		assert.Equal(t, []string{"archive", "releases", "tsd-import"}, crashDirNames(t, sw), "site %s: no swap link left", site)
		for _, svc := range svcs {
			info, err := sup.ProcessInfo(waitCtx(t, 10*time.Second), svc)
			require.NoError(t, err)
			assert.Equal(t, "RUNNING", info.StateName, svc)
		}
	}
	r.check("each site: one archive (the artifact's SHA-256), one release directory, the link on it, services RUNNING, no staging, swap link or pin left")

	for _, site := range []string{"nsc", "tsd"} {
		desc, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), workflows.SiteLockWorkflowID(d.taskQueue+"-site-"+site), "")
		require.NoError(t, err)
		assert.NotEqual(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "site %s's lock released", site)
	}
	r.check("both site locks released")
}

// crashListKeys lists every object key under prefix.
func crashListKeys(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err, "list s3://%s/%s", bucket, prefix)
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

// crashDirNames is dir's entries, sorted, without the services' logs.
func crashDirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	return names
}
