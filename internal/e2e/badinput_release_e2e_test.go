//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// releaseBase is the version every site runs before the corpus: the state bad inputs must
// leave alone (and roll back to).
const releaseBase = "v1.0.0-rel"

// runReleaseCorpus: bad tags and site names through `opsflow release` and the Temporal CLI,
// then each bad tarball as the artifact a site extracts. Sites run releaseBase first.
func runReleaseCorpus(t *testing.T, b *badInputDeployment, cases []badinput.Case) {
	d := b.deployment
	out, err := d.starter("release", "--version", releaseBase, "--workflow-id", "badinput-base-"+d.taskQueue, "--wait")
	require.NoError(t, err, "the release every bad one is compared with: %s", out)
	var minor atomic.Int32 // each release of a row gets a version of its own
	minor.Store(100)
	var tarballs []badinput.Case
	for _, c := range cases {
		switch {
		case c.Path == "names/release-version.json":
			t.Run(c.Path, func(t *testing.T) { releaseBadTags(t, b, c) })
		case c.Path == "names/release-site.json":
			t.Run(c.Path, func(t *testing.T) { releaseBadSites(t, b, c, &minor) })
		case strings.HasPrefix(c.Path, "tarballs/"):
			tarballs = append(tarballs, c)
		default:
			t.Fatalf("no release row runs %s", c.Path)
		}
	}
	// A site deploys one release at a time (its lock): one lane per site, the lanes at once.
	before := snapshotRelease(t, b)
	type row struct {
		c             badinput.Case
		site, version string
	}
	rows := make([]row, len(tarballs))
	allowed := map[string]bool{}
	var versions []string
	for i, c := range tarballs {
		rows[i] = row{c: c, site: []string{"nsc", "tsd"}[i%2], version: fmt.Sprintf("v1.%d.0-rel", minor.Add(1))}
		versions = append(versions, rows[i].version)
		key := release.ArtifactKey("tsd-import", rows[i].version)
		allowed[key], allowed[rows[i].site+"/sw/archive/"+filepath.Base(key)] = true, true
	}
	lanes := []string{"nsc", "tsd"}
	concurrently(t, lanes, 0, func(t *testing.T, i int) {
		for _, r := range rows {
			if r.site == lanes[i] {
				t.Run(r.c.Path, func(t *testing.T) { releaseBadTarball(t, b, r.c, r.site, r.version) })
			}
		}
	})
	assertReleaseUntouched(t, b, before, "bad tarballs", allowed, versions, "nsc", "tsd")
}

// releaseState is what a refused release must not change: the tags (clone and origin), the
// artifact bucket, the sites' files and their services' PIDs.
type releaseState struct {
	tags, remote string
	artifacts    map[string]string
	sites        tree
	pids         map[string]int
}

func snapshotRelease(t *testing.T, b *badInputDeployment) releaseState {
	d := b.deployment
	st := releaseState{tags: d.repo.Git(t, "tag", "-l"), remote: d.repo.Git(t, "ls-remote", "--tags", "origin"),
		artifacts: objects(t, b.s3, d.bucket, ""), sites: snapshotSites(t, d), pids: map[string]int{}}
	for _, svcs := range services {
		for _, svc := range svcs {
			st.pids[svc] = pid(t, d, svc)
		}
	}
	return st
}

func snapshotSites(t *testing.T, d *deployment) tree {
	return snapshotTree(t, filepath.Join(d.dir, "sites"), func(rel string) bool { return strings.HasSuffix(rel, ".log") })
}

// releaseBadTags: every bad tag is refused by `opsflow release` before anything starts, and by
// the workflow (InvalidVersion) when started with the plain Temporal CLI; no tag, no artifact,
// no file, no restart.
func releaseBadTags(t *testing.T, b *badInputDeployment, c badinput.Case) {
	d := b.deployment
	var tags []string
	require.NoError(t, json.Unmarshal(corpus(t, c.Path), &tags))
	before := snapshotRelease(t, b)
	concurrently(t, flatAll(tags), 6, func(t *testing.T, i int) {
		tag := tags[i]
		if !strings.ContainsRune(tag, 0) { // no argv holds a NUL
			out, err := d.starter("release", "--version", tag, "--wait")
			assert.Error(t, err, "opsflow release --version %q: %s", tag, out)
			assert.Contains(t, out, "is not of the form vX.Y.Z-rel", "opsflow release --version %q", tag)
			d.assertNoRun(t, "release-"+tag, "opsflow release --version "+tag)
		}
		id := fmt.Sprintf("badinput-tag-%d-%s", i, d.taskQueue)
		input, err := json.Marshal(map[string]string{"version": tag})
		require.NoError(t, err)
		d.temporalCLI("workflow", "start", "--type", "ReleaseDeploy", "--task-queue", d.taskQueue, "--workflow-id", id, "--input", string(input))
		b.refused(t, c, d.runErr(t, id, 2*time.Minute), fmt.Sprintf("Temporal CLI start of version %q", tag))
	})
	assertReleaseUntouched(t, b, before, "bad tags", nil, nil)
}

// releaseBadSites: a valid new version with a site that is not configured fails the run
// (UnknownSite) before any tag, artifact or site is touched.
func releaseBadSites(t *testing.T, b *badInputDeployment, c badinput.Case, minor *atomic.Int32) {
	d := b.deployment
	var sites []string
	require.NoError(t, json.Unmarshal(corpus(t, c.Path), &sites))
	before := snapshotRelease(t, b)
	concurrently(t, flatAll(sites), 6, func(t *testing.T, i int) {
		site, version := sites[i], fmt.Sprintf("v1.%d.0-rel", minor.Add(1))
		id := fmt.Sprintf("badinput-site-%d-%s", i, d.taskQueue)
		out, err := d.starter("release", "--version", version, "--sites", site, "--workflow-id", id, "--wait")
		assert.Error(t, err, "opsflow release --sites %q: %s", site, out)
		b.refused(t, c, d.runErr(t, id, 2*time.Minute), fmt.Sprintf("opsflow release --sites %q", site))
		assert.NotContains(t, d.repo.Git(t, "ls-remote", "--tags", "origin"), version, "--sites %q: the tag of a refused release was pushed", site)
	})
	assertReleaseUntouched(t, b, before, "bad sites", nil, nil)
}

// releaseBadTarball stores the tarball as the artifact of a new version and releases it to
// one site (forced): the site archives it, stops, refuses it at extraction (UnsafeArchive) and
// rolls back, so the run fails with SiteDeployRolledBack; the site runs releaseBase again and
// nothing landed outside, inside or beside the release directories. The other site's lane runs
// meanwhile, so the checks here are the site's; the group checks the rest at its end.
func releaseBadTarball(t *testing.T, b *badInputDeployment, c badinput.Case, site, version string) {
	d := b.deployment
	data := corpus(t, c.Path)
	key := release.ArtifactKey("tsd-import", version)
	sum := sha256.Sum256(data)
	siteDir := d.siteDir(site)
	before := snapshotTree(t, siteDir, func(rel string) bool { return strings.HasSuffix(rel, ".log") })
	s3test.Put(t, b.s3, d.bucket, key, data, map[string]string{release.ArtifactSHA256Metadata: hex.EncodeToString(sum[:])})
	stored := objects(t, b.s3, d.bucket, "tsd-import/"+version+"/")

	id := fmt.Sprintf("badinput-%s-%s", strings.TrimSuffix(filepath.Base(c.Path), ".tar.gz"), d.taskQueue)
	out, err := d.starter("release", "--version", version, "--sites", site, "--force", "--workflow-id", id, "--wait")
	assert.Error(t, err, "%s: %s", c.Path, out)
	b.refused(t, c, d.runErr(t, id, 3*time.Minute), c.Path)
	assertRuns(t, d, site, releaseBase)
	for _, svc := range services[site] {
		info, err := d.sup.Client(t).ProcessInfo(waitCtx(t, 10*time.Second), svc)
		require.NoError(t, err)
		assert.Equal(t, "RUNNING", info.StateName, "%s: %s runs again after the rollback", c.Path, svc)
	}
	// Documented: the artifact is archived before the stop (and stays, as any archived release).
	added, removed, changed := before.diff(snapshotTree(t, siteDir, func(rel string) bool { return strings.HasSuffix(rel, ".log") }))
	assert.Equal(t, []string{"sw/archive/" + filepath.Base(key)}, added, "%s: files written on site %s", c.Path, site)
	assert.Empty(t, removed, "%s: files removed from site %s", c.Path, site)
	assert.Empty(t, changed, "%s: files changed on site %s", c.Path, site)
	assert.Equal(t, stored, objects(t, b.s3, d.bucket, "tsd-import/"+version+"/"), "%s: the artifact was replaced, or another written", c.Path)
	for _, p := range badinput.EscapeTargets {
		assert.NoFileExists(t, p, "%s: an entry was written outside the site", c.Path)
	}
	assert.Empty(t, findEscaped(t, d.dir), "%s: an entry escaped the extraction directory", c.Path)
}

// findEscaped lists files under dir named like the corpus tarballs' escaping entries.
func findEscaped(t *testing.T, dir string) []string {
	var found []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil // a directory removed meanwhile
		}
		if strings.HasPrefix(info.Name(), "badinput-escape-") {
			found = append(found, p)
		}
		return nil
	}))
	return found
}

// assertReleaseUntouched compares the release state with before: the same tags, artifacts,
// site files and service PIDs, except the artifacts the test put and the files a refused
// deploy archives (allowed, by key and by path under sites/), and the PIDs of restarted sites.
func assertReleaseUntouched(t *testing.T, b *badInputDeployment, before releaseState, what string, allowed map[string]bool, tags []string, restarted ...string) {
	t.Helper()
	after := snapshotRelease(t, b)
	released := map[string]bool{} // tags of valid versions the rows released
	for _, tag := range tags {
		released["refs/tags/"+tag], released["refs/tags/"+tag+"^{}"], released[tag] = true, true, true
	}
	drop := func(lines string) string {
		var kept []string
		for _, line := range strings.Split(lines, "\n") {
			if f := strings.Fields(line); len(f) == 0 || !released[f[len(f)-1]] {
				kept = append(kept, line)
			}
		}
		return strings.Join(kept, "\n")
	}
	after.tags, after.remote = drop(after.tags), drop(after.remote)
	assert.Equal(t, before.tags, after.tags, "%s: a tag was created in the release repository", what)
	assert.Equal(t, before.remote, after.remote, "%s: a tag was pushed", what)
	assertSameObjects(t, before.artifacts, after.artifacts, allowed, what)
	added, removed, changed := before.sites.diff(after.sites)
	var unexpected []string
	for _, p := range added {
		if !allowed[p] {
			unexpected = append(unexpected, p)
		}
	}
	assert.Empty(t, unexpected, "%s: files written on the sites", what)
	assert.Empty(t, removed, "%s: files removed from the sites", what)
	assert.Empty(t, changed, "%s: files changed on the sites", what)
	for site, svcs := range services {
		if slices.Contains(restarted, site) {
			continue
		}
		for _, svc := range svcs {
			assert.Equal(t, before.pids[svc], after.pids[svc], "%s: %s was restarted", what, svc)
		}
	}
}
