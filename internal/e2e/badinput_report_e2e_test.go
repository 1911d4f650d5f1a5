//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/badinput"
)

// corpusReport collects what each corpus file's inputs did, for the table TestBadInputCorpus
// logs and writes to OPSFLOW_BADINPUT_REPORT (make test-badinput; docs/reliability.md).
type corpusReport struct {
	mu     sync.Mutex
	rows   map[string]*reportRow
	groups map[string]bool // the groups that ran (-run may select some)
}

// reportRow is one corpus file: how many runs (or polls) its inputs made, how many were refused
// as expected, and the outcomes observed.
type reportRow struct {
	c              badinput.Case
	tried, refused int
	observed       map[string]int
}

// ran records that a group's rows ran.
func (r *corpusReport) ran(group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups[group] = true
}

// add records one run of an input of c and what it did.
func (r *corpusReport) add(c badinput.Case, observed string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	row := r.rows[c.Path]
	if row == nil {
		row = &reportRow{c: c, observed: map[string]int{}}
		r.rows[c.Path] = row
	}
	row.tried++
	if ok {
		row.refused++
	}
	row.observed[observed]++
}

// table is the report in Markdown: one line per corpus file, and the totals.
func (r *corpusReport) table(cases []badinput.Case) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.WriteString("| corpus file | procedure | runs | expected | observed | result |\n|---|---|---|---|---|---|\n")
	tried, refused, files, passed := 0, 0, 0, 0
	for _, c := range cases {
		if c.Support || !r.groups[groupOf(c.Path)] {
			continue
		}
		files++
		exp := c.Expect
		if c.Cause != "" {
			exp += " ← " + c.Cause
		}
		row := r.rows[c.Path]
		if row == nil {
			fmt.Fprintf(&b, "| %s | %s | 0 | %s | not run | FAIL |\n", c.Path, c.Procedure, exp)
			continue
		}
		var seen []string
		for o, n := range row.observed {
			seen = append(seen, fmt.Sprintf("%s ×%d", o, n))
		}
		sort.Strings(seen)
		result := "FAIL"
		if row.refused == row.tried {
			result = "pass"
			passed++
		}
		tried, refused = tried+row.tried, refused+row.refused
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s |\n", c.Path, c.Procedure, row.tried, exp, strings.Join(seen, ", "), result)
	}
	fmt.Fprintf(&b, "\n%d corpus files, %d runs: %d refused as expected; %d files pass. Nothing written, marked, switched or "+
		"deleted is checked per group (see TestBadInputCorpus). Known bugs (not run): %d, listed in testdata/bad/README.md.\n",
		files, tried, refused, passed, len(badinput.Found()))
	return b.String()
}

// writeReport logs the table and writes it to OPSFLOW_BADINPUT_REPORT when set.
func (r *corpusReport) writeReport(t *testing.T, cases []badinput.Case) {
	table := r.table(cases)
	t.Logf("bad-input corpus:\n%s", table)
	if path := os.Getenv("OPSFLOW_BADINPUT_REPORT"); path != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte("# Bad-input corpus (TestBadInputCorpus)\n\n"+table), 0o644))
	}
	for _, c := range cases {
		if !c.Support && r.groups[groupOf(c.Path)] {
			assert.Contains(t, r.rows, c.Path, "%s: no input of it was run", c.Path)
		}
	}
}
