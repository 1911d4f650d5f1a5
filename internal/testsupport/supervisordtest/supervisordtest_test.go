package supervisordtest_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

func TestProgramSettingsReachTheProcess(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	value := `a "quoted" 100% \ value, with=commas`
	other := `it's single`
	inst := supervisordtest.Start(t, supervisordtest.Program{
		Name:        "envdump",
		Command:     `/bin/sh -c 'printf "%s|%s|%s" "$OPSFLOW_V" "$OTHER" "$(pwd)" > out; exec sleep 1000'`,
		Directory:   work,
		AutoStart:   true,
		Environment: map[string]string{"OPSFLOW_V": value, "OTHER": other},
	})
	assert.FileExists(t, inst.ConfigPath)
	assert.Equal(t, inst.Dir, filepath.Dir(inst.ConfigPath))

	out := filepath.Join(work, "out")
	var data []byte
	require.Eventually(t, func() bool {
		var err error
		data, err = os.ReadFile(out)
		return err == nil && strings.Contains(string(data), "|")
	}, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, value+"|"+other+"|"+work, string(data))
}

func TestCleanupStopsSupervisord(t *testing.T) {
	t.Parallel()
	var pid int
	t.Run("owner", func(t *testing.T) {
		inst := supervisordtest.Start(t, supervisordtest.Program{Name: "sleeper", Command: "sleep 1000", AutoStart: true})
		data, err := os.ReadFile(filepath.Join(inst.Dir, "supervisord.pid"))
		require.NoError(t, err)
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		require.NoError(t, err)
		require.NoError(t, syscall.Kill(pid, 0), "supervisord runs during the test")
	})
	require.NotZero(t, pid)
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "supervisord is gone after the test")
}
