//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/workflows"
)

// runLimsCorpus: every bad LIMS document is put in the lims-exporter's directory queue (named
// like a LIMS id of its own), and one trigger of the lims-exporter schedule scans them all.
// Each item's LimsPackageExport fails with its type naming the item, nothing is written in the
// export area, and every item stays in the queue (it is never marked exported).
func runLimsCorpus(t *testing.T, b *badInputDeployment, cases []badinput.Case) {
	stamp := token()
	type item struct {
		c      badinput.Case
		id     string // the LIMS id: the queue file's name
		doc    []byte
		runIDs []string // the child's possible workflow ids: by the item's name, or by its LIMS id
	}
	var items []item
	for _, c := range cases {
		if c.Support { // lims/reads/: the reads the documents point at
			for rel, body := range corpusDir(t, c.Path) {
				p := filepath.Join(b.queueDir, filepath.Dir(badinput.LimsRead), rel)
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, body, 0o644))
			}
			continue
		}
		it := item{c: c, id: fmt.Sprintf("bad%s-%s", stamp, strings.TrimSuffix(filepath.Base(c.Path), ".json")),
			doc: []byte(strings.ReplaceAll(string(corpus(t, c.Path)), badinput.StampToken, stamp))}
		it.runIDs = []string{workflows.LimsPackageExportWorkflowID(b.hasher.ID("lims-item", it.id))}
		var doc struct {
			Kind     samplepkg.Kind        `json:"kind"`
			Sample   struct{ Name string } `json:"sample"`
			Analysis struct{ Name string } `json:"analysis"`
		}
		if json.Unmarshal(it.doc, &doc) == nil {
			for _, name := range []string{doc.Sample.Name, doc.Analysis.Name} {
				if name != "" {
					it.runIDs = append(it.runIDs, workflows.LimsPackageExportWorkflowID(samplepkg.KindID(b.hasher, doc.Kind, name)))
				}
			}
		}
		items = append(items, it)
	}
	for _, it := range items {
		require.NoError(t, os.WriteFile(filepath.Join(b.queueDir, it.id+".json"), it.doc, 0o644))
	}
	queueBefore := snapshotTree(t, b.queueDir, nil)
	exportBefore := snapshotTree(t, b.exportDir, nil)

	out, err := b.starter("schedules", "trigger", "lims-exporter", "--wait", "--timeout", "10m")
	assert.Error(t, err, "the scan reports its failed children: %s", out)
	assert.Contains(t, out, fmt.Sprintf("found %d, started %d, succeeded 0, failed %d", len(items), len(items), len(items)), out)
	for _, it := range items {
		t.Run(it.c.Path, func(t *testing.T) {
			id := ""
			for _, candidate := range it.runIDs {
				if _, err := b.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), candidate, ""); err == nil {
					id = candidate
				}
			}
			require.NotEmpty(t, id, "%s: no LimsPackageExport run among %v", it.c.Path, it.runIDs)
			err := b.runErr(t, id, 2*time.Minute)
			if b.refused(t, it.c, err, it.c.Path) {
				assert.Contains(t, err.Error(), "LIMS item "+it.id, "%s: the failure names the item by its LIMS id", it.c.Path)
			}
			assert.FileExists(t, filepath.Join(b.queueDir, it.id+".json"), "%s: a refused item was marked exported", it.c.Path)
		})
	}
	added, removed, changed := queueBefore.diff(snapshotTree(t, b.queueDir, nil))
	assert.Empty(t, append(append(added, removed...), changed...), "the LIMS queue changed: items marked exported or rewritten")
	added, removed, changed = exportBefore.diff(snapshotTree(t, b.exportDir, nil))
	assert.Empty(t, append(append(added, removed...), changed...), "written in the NSC export area for refused items")
	var stray []string // a sample or read named as a path would be written outside the export area
	require.NoError(t, filepath.Walk(b.dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(info.Name(), stamp) && !strings.HasPrefix(p, b.queueDir+string(filepath.Separator)) {
			stray = append(stray, p)
		}
		return nil
	}))
	leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), "badinput"+stamp+"*"))
	assert.Empty(t, append(stray, leftovers...), "files named after refused items outside the queue")
}
