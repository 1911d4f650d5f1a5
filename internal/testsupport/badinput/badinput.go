// Package badinput is the bad-input corpus of testdata/bad: every file (or package directory)
// with the procedure it is fed to, how, and the error type its run must fail with (issue 13).
// The generator (go run ./internal/testsupport/badinput/gen) writes the files and README.md
// from this one table, deterministically, so the corpus is reproducible; the end-to-end table
// test (internal/e2e, TestBadInputCorpus) runs every case on the dev stack.
package badinput

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Outcomes other than a failed run's ApplicationError type.
const (
	// Ignored: the procedure drops the input by design, starting nothing (a notification the
	// poll cannot use is deleted and counted as ignored).
	Ignored = "Ignored"
)

// FoundDir holds inputs that were accepted where they should have been refused (real bugs,
// reported); the table test does not walk it.
const FoundDir = "found"

// Case is one entry of the corpus.
type Case struct {
	// Path is relative to testdata/bad; a directory (ending in "/") for a package.
	Path string
	// Procedure is the workflow (or scan) the input goes through.
	Procedure string
	// Feed says how the test feeds it, as a user or a system would.
	Feed string
	// Expect is the ApplicationError type the run fails with (activities/errors.go,
	// activities/*_types.go, workflows/errors.go), or Ignored.
	Expect string
	// Cause is the type of the error under Expect, when Expect is a workflow's own wrapper.
	Cause string
	// Bad says what is wrong with it.
	Bad string
	// Support marks files that are not bad inputs but that cases need (a read LIMS items
	// point at).
	Support bool
	// Found, when set, says how the procedure mishandles this input (a bug reported, not yet
	// fixed): the case is written under found/ and the table test does not run it. Once the
	// bug is fixed, clear Found and the case joins the table.
	Found string
	// files are the contents: "" for Path itself, else paths relative to the directory.
	files map[string][]byte
}

// Cases is the corpus the table test runs, in README order.
func Cases() []Case {
	var run []Case
	for _, c := range all() {
		if c.Found == "" {
			run = append(run, c)
		}
	}
	return run
}

// Found are the inputs a procedure accepted or mishandled (see Case.Found), kept under found/.
func Found() []Case {
	var out []Case
	for _, c := range all() {
		if c.Found != "" {
			out = append(out, c)
		}
	}
	return out
}

func all() []Case {
	var cs []Case
	for _, group := range [][]Case{nameCases(), tarballCases(), packageCases(), zipCases(), sqsCases(), limsCases(), revalCases()} {
		cs = append(cs, group...)
	}
	for i := range cs {
		if found, ok := foundBugs[cs[i].Path]; ok {
			cs[i].Found = found
		}
	}
	return cs
}

// Dir is testdata/bad of this checkout.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "bad")
}

// Write (re)writes every case and README.md under dir, the found ones under found/; files
// that no case writes any more are removed.
func Write(dir string) error {
	want := map[string][]byte{"README.md": README()}
	for _, c := range all() {
		for rel, body := range c.Files() {
			want[filepath.FromSlash(rel)] = body
		}
	}
	for rel, body := range want {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, body) {
			continue
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return err
		}
	}
	return filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if info.IsDir() {
			return nil
		}
		if _, ok := want[rel]; !ok {
			return os.Remove(p)
		}
		return nil
	})
}

// Files are a case's contents as Write writes them, by path relative to testdata/bad (under
// found/ for a found case).
func (c Case) Files() map[string][]byte {
	out := map[string][]byte{}
	for rel, body := range c.files {
		out[c.Dir()+rel] = body
	}
	return out
}

// Dir is where the case is under testdata/bad: its Path, under found/ for a found case.
func (c Case) Dir() string {
	if c.Found != "" {
		return FoundDir + "/" + c.Path
	}
	return c.Path
}

// README is the corpus index: file → procedure → expected error type.
func README() []byte {
	var b bytes.Buffer
	b.WriteString(`# Bad-input corpus (issue 13)

Every input here must be refused by the procedure it is fed to, with the error type below, and
leave nothing behind: no file outside the target, no READY, no object, alias or tag, no NDJSON or
Parquet for the record, nothing switched or deleted. ` + "`TestBadInputCorpus`" + ` (internal/e2e,
badinput_e2e_test.go) runs each one through its procedure on the dev stack, the way a user or a
system would feed it, and compares the state before and after; it fails on a file here that no
row covers.

Generated, deterministically, with ` + "`go run ./internal/testsupport/badinput/gen`" + ` from the table in
internal/testsupport/badinput (edit that, never these files; its unit test fails when they
differ). Tokens the test replaces per run: ` + "`" + NameToken + "`" + ` (a package name), ` + "`" + StampToken + "`" + ` (a
unique token in LIMS names), ` + "`" + BucketToken + "` and `" + KeyToken + "`" + ` (the archive bucket and a valid
archive's key). Names with shell metacharacters try to create ` + "`" + Marker + "`" + `; the test checks
it never exists. ` + "`" + FoundDir + "/`" + ` holds inputs that were accepted where they should have been
refused (reported as bugs); the test does not run them.

Error types: activities/errors.go, activities/*_types.go, workflows/errors.go. A type written
` + "`A ← B`" + ` is the run's type A caused by the step's type B. ` + "`" + Ignored + "`" + `: the procedure drops the
input by design and starts nothing.

`)
	byDir := map[string][]Case{}
	var dirs []string
	for _, c := range Cases() {
		d := strings.SplitN(c.Path, "/", 2)[0]
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], c)
	}
	for _, d := range dirs {
		cs := byDir[d]
		shared := true
		for _, c := range cs {
			shared = shared && c.Feed == cs[0].Feed
		}
		fmt.Fprintf(&b, "## %s/\n\n", d)
		if shared {
			fmt.Fprintf(&b, "Fed: %s.\n\n", cs[0].Feed)
		}
		b.WriteString("| file | procedure | expected | what is bad |\n|---|---|---|---|\n")
		for _, c := range cs {
			exp := "`" + c.Expect + "`"
			if c.Cause != "" {
				exp = "`" + c.Expect + " ← " + c.Cause + "`"
			}
			if c.Support {
				exp = "(support file)"
			}
			bad := c.Bad
			if !shared {
				bad += ". Fed: " + c.Feed
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", strings.TrimPrefix(c.Path, d+"/"), c.Procedure, exp, strings.ReplaceAll(bad, "|", `\|`))
		}
		b.WriteString("\n")
	}
	if found := Found(); len(found) > 0 {
		b.WriteString("## found/: bugs\n\nInputs a procedure accepted or mishandled; reported, not run by the table until fixed.\n\n" +
			"| file | procedure | should be | what happens instead |\n|---|---|---|---|\n")
		for _, c := range found {
			exp := "`" + c.Expect + "`"
			if c.Cause != "" {
				exp = "`" + c.Expect + " ← " + c.Cause + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Dir(), c.Procedure, exp, strings.ReplaceAll(c.Found, "|", `\|`))
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// foundBugs are the cases a procedure mishandles today, by Path: what happens instead.
var foundBugs = map[string]string{}
