package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// demoHost (re)creates the demo's stand-in ELLA host: the production directory with releases
// v1, v2 and v3 and ella.sif pointing at v1, the database emptied and migrated to v1 (the way a
// running ELLA v1 has it), and supervisord.conf for the host's own supervisord (user ella),
// whose four programs start with it. It prints each release's checksum, one per line.
func demoHost(ctx context.Context, dir, dbURL, listen string, supPort int, supPassword string) error {
	if dir == "" || dbURL == "" {
		return errors.New("--dir and --db-url are required")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	stub, err := os.Executable()
	if err != nil {
		return err
	}
	h, err := ellastub.WriteHost(dir)
	if err != nil {
		return err
	}
	if _, err := ellastub.PSQL(ctx, dbURL, `DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;`, nil); err != nil {
		return fmt.Errorf("reset the database: %w", err)
	}
	// ella-cli reads its database from DB_URL, as ELLA's does.
	if err := os.Setenv("DB_URL", dbURL); err != nil {
		return err
	}
	if code := ellastub.RunCLI(ctx, h.Link(), []string{"database", "upgrade", "head"}, os.Stderr, os.Stderr); code != 0 {
		return fmt.Errorf("ella-cli database upgrade head (v1) exited %d", code)
	}
	supDir := filepath.Join(dir, "supervisor")
	if err := os.MkdirAll(supDir, 0o755); err != nil {
		return err
	}
	conf, err := supervisordtest.Render(supDir, supPort, "ella", supPassword, h.Programs(stub, dbURL, listen, h.AccessLog(), true))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(supDir, "supervisord.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	for _, name := range []string{ellastub.ReleaseV1, ellastub.ReleaseV2, ellastub.ReleaseBroken} {
		fmt.Printf("%s %s\n", h.Sums[name], name)
	}
	return nil
}
