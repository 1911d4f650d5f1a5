package ellastub

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The stand-in's ella-cli against the stack's PostgreSQL: migrations in order, compare's exit
// status, broadcasts stored verbatim and listed in ELLA's format.
func TestCLIOnRealPostgreSQL(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := NewDatabase(t)
	t.Setenv("DB_URL", dbURL)
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "v1.sif"), filepath.Join(dir, "v2.sif")
	require.NoError(t, WriteImage(v1, ImageV1))
	require.NoError(t, WriteImage(v2, ImageV2))
	run := func(image string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := RunCLI(ctx, image, args, &out, &errOut)
		return code, out.String() + errOut.String()
	}

	code, _ := run(v1, "database", "compare")
	require.Equal(t, 1, code, "an empty database is not at v1's head")
	code, out := run(v1, "database", "upgrade", "head")
	require.Zero(t, code, out)
	code, _ = run(v1, "database", "compare")
	require.Zero(t, code)
	code, _ = run(v2, "database", "compare")
	require.Equal(t, 1, code, "v2 has a migration due")

	msg := `Nede i kveld; "quoted" 'single' $(touch /tmp/pwned) | & > x`
	code, out = run(v1, "broadcast", "new", msg)
	require.Zero(t, code, out)
	require.Equal(t, "Message with id 1 added\n", out)
	got, err := PSQL(ctx, dbURL, `SELECT message FROM broadcast WHERE id = 1;`, nil)
	require.NoError(t, err)
	require.Equal(t, msg, got)
	_, out = run(v1, "broadcast", "list")
	require.Contains(t, out, "\n   1   | ")
	require.Contains(t, out, msg)

	code, out = run(v2, "database", "upgrade", "head")
	require.Zero(t, code, out)
	cols, err := PSQL(ctx, dbURL, `SELECT count(*) FROM information_schema.columns WHERE table_name = :'t' AND column_name = :'c';`,
		map[string]string{"t": MigratedTable, "c": MigratedColumn})
	require.NoError(t, err)
	require.Equal(t, "1", cols)
	code, out = run(v1, "database", "upgrade", "head")
	require.Equal(t, 1, code, "v1 does not know v2's revision: %s", out)
	code, out = run(v1, "broadcast", "deactivate", "1")
	require.Zero(t, code)
	require.Equal(t, "Message with id 1 set as inactive\n", out)
	_, out = run(v1, "broadcast", "list")
	require.Equal(t, "No messages\n", out)
}
