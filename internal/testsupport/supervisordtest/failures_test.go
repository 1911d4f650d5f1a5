package supervisordtest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// These tests set environment variables, so they cannot run in parallel.

func TestMissingBinaryTellsHowToInstallIt(t *testing.T) {
	const hint = "install the Debian package supervisor (scripts/stack up does it)"

	t.Run("OPSFLOW_SUPERVISORD", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "no-such-supervisord")
		t.Setenv("OPSFLOW_SUPERVISORD", bin)
		msg := fatalOf(t, func(tb testing.TB) { supervisordtest.Start(tb) })
		assert.Contains(t, msg, "OPSFLOW_SUPERVISORD="+bin)
		assert.Contains(t, msg, hint)
	})
	t.Run("PATH", func(t *testing.T) {
		t.Setenv("OPSFLOW_SUPERVISORD", "")
		t.Setenv("PATH", t.TempDir())
		msg := fatalOf(t, func(tb testing.TB) { supervisordtest.Start(tb) })
		assert.Contains(t, msg, "supervisord not found on PATH")
		assert.Contains(t, msg, hint)
	})
}

func TestStartupFailureShowsTheLogTail(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "supervisord")
	script := "#!/bin/sh\necho 'Error: opsflow test supervisord refuses to start' >&2\nexit 2\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPSFLOW_SUPERVISORD", fake)

	msg := fatalOf(t, func(tb testing.TB) { supervisordtest.Start(tb) })
	assert.Contains(t, msg, "exited during startup")
	assert.Contains(t, msg, "Error: opsflow test supervisord refuses to start", "its stderr is in the report")
}

// fatalOf runs start with a testing.TB whose Fatal ends start alone, and returns what it
// failed with ("" if it did not fail).
func fatalOf(t *testing.T, start func(testing.TB)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start(rec)
	}()
	<-done
	return rec.msg
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatal(args ...any) { r.msg = fmt.Sprint(args...); runtime.Goexit() }

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
