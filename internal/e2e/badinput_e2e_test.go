//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/badinput"
)

// corpusGroups say which procedure group runs each part of testdata/bad (by path prefix): a
// group shares one set of peers and a before/after snapshot of the state it must not change.
var corpusGroups = []struct {
	prefix, group string
}{
	{"names/release-", "release"}, {"tarballs/", "release"},
	{"names/package", "import"}, {"packages/", "import"},
	{"names/bridge-", "bridge"}, {"zips/", "bridge"}, {"sqs/", "bridge"},
	{"lims/", "lims"},
	{"names/reval-", "reval"}, {"reval/", "reval"},
	{"names/ella-", "ella"},
}

// corpusRunners run a group's cases; each case is one row (a subtest named by its path).
var corpusRunners = map[string]func(t *testing.T, b *badInputDeployment, cases []badinput.Case){
	"release": runReleaseCorpus,
	"import":  runImportCorpus,
	"bridge":  runBridgeCorpus,
	"lims":    runLimsCorpus,
	"reval":   runRevalCorpus,
	"ella":    runEllaCorpus,
}

func groupOf(path string) string {
	for _, g := range corpusGroups {
		if strings.HasPrefix(path, g.prefix) {
			return g.group
		}
	}
	return ""
}

// TestBadInputCorpus feeds every input of testdata/bad (README.md there: file → procedure →
// expected error type) to its procedure on the dev stack, the way a user or a system would,
// and checks the run was refused with the expected error type and that nothing was written,
// marked, switched or deleted. The groups (release, import, Bridge, LIMS, revalidation, ELLA)
// run in parallel on one isolated deployment and one worker; a file of the corpus that no row
// covers fails the test, so the corpus and the table cannot drift apart.
func TestBadInputCorpus(t *testing.T) {
	began := time.Now()
	cases := badinput.Cases()
	byGroup := map[string][]badinput.Case{}
	for _, c := range cases {
		g := groupOf(c.Path)
		require.NotEmpty(t, g, "no group runs %s: add it to corpusGroups", c.Path)
		require.Contains(t, corpusRunners, g)
		byGroup[g] = append(byGroup[g], c)
	}
	checkCorpusCovered(t, cases)

	b := newBadInputDeployment(t)
	markerGone(t)
	t.Cleanup(func() {
		markerGone(t)
		b.report.writeReport(t, cases)
		t.Logf("TestBadInputCorpus: %d corpus files in %s", len(cases), time.Since(began).Round(time.Second))
	})
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	concurrently(t, groups, 0, func(t *testing.T, i int) {
		g, start := groups[i], time.Now()
		b.report.ran(g)
		corpusRunners[g](t, b, byGroup[g])
		t.Logf("group %s: %d rows in %s", g, len(byGroup[g]), time.Since(start).Round(time.Second))
	})
}

// concurrently runs one subtest per name, each in a goroutine of its own, at most limit at a
// time (0: all), and waits for them. Rows mostly wait on the servers, so t.Parallel's limit
// (GOMAXPROCS, 2 here) would only serialise waits; t.Run may be called from many goroutines.
func concurrently(t *testing.T, names []string, limit int, run func(t *testing.T, i int)) {
	t.Helper()
	if limit <= 0 {
		limit = len(names)
	}
	slots := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			t.Run(name, func(t *testing.T) { run(t, i) })
		})
	}
	wg.Wait()
}

// checkCorpusCovered walks testdata/bad: every file (README.md and found/ aside) belongs to a
// case of the table, and every case's files are there as the generator wrote them.
func checkCorpusCovered(t *testing.T, cases []badinput.Case) {
	t.Helper()
	dir := badinput.Dir()
	var uncovered []string
	walked := 0
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == badinput.FoundDir {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "README.md" {
			return nil
		}
		walked++
		for _, c := range cases {
			if rel == c.Path || (strings.HasSuffix(c.Path, "/") && strings.HasPrefix(rel, c.Path)) {
				return nil
			}
		}
		uncovered = append(uncovered, rel)
		return nil
	}))
	assert.Empty(t, uncovered, "testdata/bad holds files no row of TestBadInputCorpus runs: add them to internal/testsupport/badinput (or move them to found/)")
	for _, c := range cases {
		for rel := range c.Files() {
			assert.FileExists(t, filepath.Join(dir, filepath.FromSlash(rel)), "run go run ./internal/testsupport/badinput/gen")
		}
	}
	assert.Positive(t, walked)
}

// corpus reads a file of testdata/bad: the test feeds what is checked in.
func corpus(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(badinput.Dir(), filepath.FromSlash(rel)))
	require.NoError(t, err, "corpus file %s", rel)
	return b
}

// corpusDir reads a case directory of testdata/bad: its files by path relative to it.
func corpusDir(t *testing.T, rel string) map[string][]byte {
	t.Helper()
	root := filepath.Join(badinput.Dir(), filepath.FromSlash(rel))
	out := map[string][]byte{}
	require.NoError(t, filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		require.NoError(t, err)
		if info.IsDir() {
			return nil
		}
		r, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[filepath.ToSlash(r)] = b
		return nil
	}))
	require.NotEmpty(t, out, "corpus directory %s", rel)
	return out
}

// markerGone checks no shell ever ran a name of the corpus (they try to create the marker).
func markerGone(t *testing.T) {
	t.Helper()
	assert.NoFileExists(t, badinput.Marker, "a name with shell metacharacters was run by a shell")
}
