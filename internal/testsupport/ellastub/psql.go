package ellastub

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
)

// PSQL runs script with psql against dbURL in one transaction, stopping at the first error,
// and returns its unaligned, tuples-only output. vars become psql variables: the script
// quotes them as :'name' (a literal), so values are never SQL.
func PSQL(ctx context.Context, dbURL, script string, vars map[string]string) (string, error) {
	args := []string{"-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", dbURL}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "-v", k+"="+vars[k])
	}
	cmd := exec.CommandContext(ctx, "psql", args...)
	cmd.Stdin = strings.NewReader(script)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql: %v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimRight(out.String(), "\n"), nil
}
