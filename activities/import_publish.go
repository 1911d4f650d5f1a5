package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opsflow/opsflow/internal/samplepkg"
)

// PublishPackage moves the verified package into <durable>/<kind>/<package> and, for kinds
// the automation waits on (samplepkg.Kind.MarksReady), writes READY last. An existing
// destination is never overwritten (ErrDuplicateImport). Every file and directory of the
// package is fsynced before the move, both parents after it and the package directory after
// READY, so that after a host crash READY never stands beside truncated or missing data.
func (a *ImportActivities) PublishPackage(ctx context.Context, in ImportInput, staged FetchResult) (PublishResult, error) {
	kind, id, err := a.target(in)
	if err != nil {
		return PublishResult{}, err
	}
	if staged.StagingDir != a.layout().StagingDir(id) {
		return PublishResult{}, permanent(ErrInvalidInput, nil, "staging directory %q is not the package's", staged.StagingDir)
	}
	dest := a.layout().PublishedDirOf(kind, in.Package)
	_, stagedErr := os.Stat(staged.StagingDir)
	_, destErr := os.Stat(dest)
	switch {
	case destErr == nil && stagedErr == nil:
		// A fresh copy is staged but the package was imported before: drop the copy.
		_ = os.RemoveAll(staged.StagingDir)
		_ = removeDigests(a.digestsFile(id))
		return PublishResult{}, permanent(ErrDuplicateImport, nil, "%s already exists: not overwriting an imported package", dest)
	case destErr == nil:
		// A retry after the move: the data there is the verified copy, synced before the
		// move; make sure the move and READY are durable.
	default:
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return PublishResult{}, err
		}
		if err := syncTree(staged.StagingDir); err != nil {
			return PublishResult{}, err
		}
		if err := os.Rename(staged.StagingDir, dest); err != nil {
			return PublishResult{}, fmt.Errorf("publish package: %w", err)
		}
		if err := syncDir(filepath.Dir(staged.StagingDir)); err != nil {
			return PublishResult{}, err
		}
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return PublishResult{}, err
	}
	if kind.MarksReady() {
		if err := writeReady(dest); err != nil {
			return PublishResult{}, err
		}
	} else if err := syncDir(dest); err != nil {
		return PublishResult{}, err
	}
	// The digests FetchPackage recorded served VerifyPackage; they name staged files only.
	if err := removeDigests(a.digestsFile(id)); err != nil {
		return PublishResult{}, err
	}
	return PublishResult{Dir: dest}, nil
}

// writeReady writes the READY marker into dir, then fsyncs the marker and dir.
func writeReady(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, samplepkg.ReadyMarker), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}
