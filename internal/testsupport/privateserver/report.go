package privateserver

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// Result is one row of the dependency fault matrix: the fault, the procedure it hit, what the
// procedure must do about it and what the test saw it do on the real servers.
type Result struct {
	Fault, Procedure, Expected, Observed string
}

// Report records r for the test: logged now, and when the test ends appended to the Markdown
// table at $OPSFLOW_FAULT_REPORT (when set) with the test's name, its verdict (pass or FAIL:
// whether every assertion of the test held). Test binaries running at
// once append under a file lock; the header is written into an empty file.
func Report(t testing.TB, r Result) {
	t.Helper()
	t.Logf("fault matrix: %s | %s | expected: %s | observed: %s", r.Fault, r.Procedure, r.Expected, r.Observed)
	path := os.Getenv("OPSFLOW_FAULT_REPORT")
	if path == "" {
		return
	}
	t.Cleanup(func() {
		verdict := "pass"
		if t.Failed() {
			verdict = "FAIL"
		}
		row := fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", cell(r.Fault), cell(r.Procedure), cell(r.Expected),
			cell(r.Observed), verdict, cell(t.Name()))
		if err := appendRow(path, row); err != nil {
			t.Errorf("fault report %s: %v", path, err)
		}
	})
}

const reportHeader = "| fault | procedure | expected | observed | result | test |\n|---|---|---|---|---|---|\n"

func appendRow(path, row string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() == 0 {
		row = reportHeader + row
	}
	_, err = f.WriteString(row)
	return err
}

// cell keeps a value inside its Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
