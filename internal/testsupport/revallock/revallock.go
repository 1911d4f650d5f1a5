// Package revallock serialises tests that use the revalidation services' fixed RabbitMQ
// queue names (reval.queue.*) across test binaries: `go test ./...` runs packages in
// parallel processes, and two packages draining the same real queue would steal each
// other's messages. The names cannot be made unique: they are the services' contract.
package revallock

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Lock blocks until no other test process holds the lock, and releases it at cleanup.
func Lock(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "opsflow-reval-queues.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("revallock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("revallock: flock %s: %v", path, err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
