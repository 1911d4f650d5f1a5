//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// quarantines says which refusals move the package to {durable}/.quarantine/<kind>/<hash>/
// with a REPORT.json (README, "Sample package import"); the others write nothing at all.
var quarantines = map[string]bool{activities.ErrManifestMismatch: true, activities.ErrChecksumMismatch: true,
	activities.ErrMalformedPackage: true, activities.ErrUnsafeObjectKey: true}

// runImportCorpus: each bad package is uploaded as the nsc-exporter would (objects, then the
// manifest) and imported with `opsflow import --wait`; bad names and kinds go through the
// starter and the Temporal CLI. The durable area may only gain the quarantine of the refused
// packages, the import bucket nothing, and nothing is published or marked READY.
func runImportCorpus(t *testing.T, b *badInputDeployment, cases []badinput.Case) {
	d := b.deployment
	stamp := token()
	durableBefore := snapshotTree(t, b.durable, nil)
	bucketBefore := objects(t, b.s3, d.importBucket, "")
	put := map[string]bool{}
	names := map[string]string{} // package name of each packages/ row
	for _, c := range cases {
		if strings.HasPrefix(c.Path, "packages/") {
			names[c.Path] = fmt.Sprintf("Diag-bad%s-%s", stamp, strings.TrimSuffix(strings.TrimPrefix(c.Path, "packages/"), "/"))
			for _, k := range uploadBadPackage(t, b, c, names[c.Path]) {
				put[k] = true
			}
		}
	}
	var mu sync.Mutex
	quarantined := map[string]bool{} // quarantine directories the rows expect, relative to durable
	paths := make([]string, len(cases))
	for i, c := range cases {
		paths[i] = c.Path
	}
	concurrently(t, paths, 8, func(t *testing.T, i int) {
		c := cases[i]
		switch {
		case names[c.Path] != "":
			id := importBadPackage(t, b, c, names[c.Path])
			if quarantines[c.Expect] {
				mu.Lock()
				quarantined[".quarantine/samples/"+strings.TrimPrefix(id, "import-")] = true
				mu.Unlock()
			}
		case c.Path == "names/package.json":
			importBadNames(t, b, c)
		case c.Path == "names/package-kind.json":
			importBadKinds(t, b, c, stamp)
		default:
			t.Fatalf("no import row runs %s", c.Path)
		}
	})
	added, removed, changed := durableBefore.diff(snapshotTree(t, b.durable, nil))
	var unexpected []string
	for _, p := range added {
		parts := strings.SplitN(p, "/", 4)
		if len(parts) >= 3 && quarantined[strings.Join(parts[:3], "/")] {
			continue
		}
		if p == ".quarantine" || p == ".quarantine/samples" || p == ".staging" || quarantined[p] {
			continue
		}
		unexpected = append(unexpected, p)
	}
	assert.Empty(t, unexpected, "written in the durable area besides the quarantine of refused packages")
	assert.Empty(t, removed, "removed from the durable area")
	assert.Empty(t, changed, "changed in the durable area")
	assertSameObjects(t, bucketBefore, objects(t, b.s3, d.importBucket, ""), put, "import bucket")
}

// uploadBadPackage puts a packages/<case>/ directory into the import bucket under name, as
// the nsc-exporter uploads (objects first, manifest last), and returns the keys it put.
func uploadBadPackage(t *testing.T, b *badInputDeployment, c badinput.Case, name string) []string {
	var keys []string
	files := corpusDir(t, c.Path)
	for rel, body := range files {
		rel = strings.ReplaceAll(rel, badinput.NameToken, name)
		body = []byte(strings.ReplaceAll(string(body), badinput.NameToken, name))
		key, ok := strings.CutPrefix(rel, badinput.ObjectsDir)
		if !ok {
			continue
		}
		key = samplepkg.ObjectPrefix(samplepkg.KindSample, name) + key
		s3test.Put(t, b.s3, b.importBucket, key, body, nil)
		keys = append(keys, key)
	}
	manifest, ok := files[badinput.ManifestFile]
	require.True(t, ok, "%s has no %s", c.Path, badinput.ManifestFile)
	key := samplepkg.ManifestKey(samplepkg.KindSample, name)
	s3test.Put(t, b.s3, b.importBucket, key, []byte(strings.ReplaceAll(string(manifest), badinput.NameToken, name)), nil)
	return append(keys, key)
}

// importBadPackage imports name with the starter and checks the refusal: the error type, no
// published directory and no READY; a quarantine with its report when the type quarantines,
// none otherwise. It returns the run's workflow id.
func importBadPackage(t *testing.T, b *badInputDeployment, c badinput.Case, name string) string {
	out, err := b.starter("import", "--package", name, "--wait")
	assert.Error(t, err, "%s: %s", c.Path, out)
	id := startedID(out)
	require.NotEmpty(t, id, "%s: the starter names the run: %s", c.Path, out)
	b.refused(t, c, b.runErr(t, id, 2*time.Minute), c.Path)
	assert.NoDirExists(t, filepath.Join(b.durable, "samples", name), "%s: a refused package was published", c.Path)
	quarantine := filepath.Join(b.durable, ".quarantine", "samples", strings.TrimPrefix(id, "import-"))
	if quarantines[c.Expect] {
		assert.FileExists(t, filepath.Join(quarantine, "REPORT.json"), "%s: quarantined with a report", c.Path)
		assert.NoFileExists(t, filepath.Join(quarantine, samplepkg.ReadyMarker), "%s: READY in the quarantine", c.Path)
	} else {
		assert.NoDirExists(t, quarantine, "%s: %s quarantines nothing", c.Path, c.Expect)
	}
	return id
}

// importBadNames: names that are not plain directory names fail the run (InvalidPackage)
// before anything is read or written, started by the starter and by the Temporal CLI.
func importBadNames(t *testing.T, b *badInputDeployment, c badinput.Case) {
	var names []string
	require.NoError(t, json.Unmarshal(corpus(t, c.Path), &names))
	concurrently(t, flatAll(names), 4, func(t *testing.T, i int) {
		name := names[i]
		if !strings.ContainsRune(name, 0) {
			out, err := b.starter("import", "--package", name, "--wait")
			assert.Error(t, err, "opsflow import --package %q: %s", name, out)
			if id := startedID(out); id != "" {
				b.refused(t, c, b.runErr(t, id, 2*time.Minute), fmt.Sprintf("opsflow import --package %q", name))
			} else {
				assert.Contains(t, out, "package name", "opsflow import --package %q is refused naming the name's problem", name)
			}
		}
		id := fmt.Sprintf("badinput-package-%d-%s", i, b.taskQueue)
		input, err := json.Marshal(map[string]string{"package": name})
		require.NoError(t, err)
		b.temporalCLI("workflow", "start", "--type", "PackageImport", "--task-queue", b.taskQueue, "--workflow-id", id, "--input", string(input))
		b.refused(t, c, b.runErr(t, id, 2*time.Minute), fmt.Sprintf("Temporal CLI start of package %q", name))
	})
}

// importBadKinds: `opsflow import --kind` refuses an unknown kind before starting anything; a
// run started with it by the Temporal CLI fails (InvalidPackage).
func importBadKinds(t *testing.T, b *badInputDeployment, c badinput.Case, stamp string) {
	var kinds []string
	require.NoError(t, json.Unmarshal(corpus(t, c.Path), &kinds))
	concurrently(t, flatAll(kinds), 4, func(t *testing.T, i int) {
		kind := kinds[i]
		name := fmt.Sprintf("Diag-badkind%s-%d", stamp, i)
		out, err := b.starter("import", "--package", name, "--kind", kind, "--wait")
		assert.Error(t, err, "opsflow import --kind %q: %s", kind, out)
		assert.Contains(t, out, "--kind", "opsflow import --kind %q", kind)
		assert.Empty(t, startedID(out), "opsflow import --kind %q started a run: %s", kind, out)
		id := fmt.Sprintf("badinput-kind-%d-%s", i, b.taskQueue)
		input, err := json.Marshal(map[string]string{"package": name, "kind": kind})
		require.NoError(t, err)
		b.temporalCLI("workflow", "start", "--type", "PackageImport", "--task-queue", b.taskQueue, "--workflow-id", id, "--input", string(input))
		b.refused(t, c, b.runErr(t, id, 2*time.Minute), fmt.Sprintf("Temporal CLI start of kind %q", kind))
	})
}
