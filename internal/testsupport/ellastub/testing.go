package ellastub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Build compiles cmd/ella-stub into a temporary folder of the test and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "ella-stub")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ella-stub")
	cmd.Dir = filepath.Dir(file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ella-stub: %v\n%s", err, out)
	}
	return bin
}

// NewDatabase creates an empty database on the stack's PostgreSQL ($OPSFLOW_PG_URL), dropped
// when the test ends, and returns its URL and name.
func NewDatabase(t testing.TB) (dbURL, name string) {
	t.Helper()
	admin := os.Getenv("OPSFLOW_PG_URL")
	if admin == "" {
		t.Fatal(`OPSFLOW_PG_URL is not set: run scripts/stack up and eval "$(scripts/stack env)"`)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("OPSFLOW_PG_URL: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = "ella_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin,
		"-c", "CREATE DATABASE "+name).CombinedOutput(); err != nil {
		t.Fatalf("create database %s on %s: %v (is PostgreSQL up? scripts/stack up)", name, u.Host, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-d", admin,
			"-c", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").CombinedOutput(); err != nil {
			t.Errorf("drop database %s: %v: %s", name, err, out)
		}
	})
	u.Path = "/" + name
	return u.String(), name
}
