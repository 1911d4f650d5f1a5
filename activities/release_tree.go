package activities

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/safearchive"
)

// A release tree is an extracted artifact: one top directory (tsd-import-<v>/) holding the
// software and its VERSION file. The export checks it before upload, a site before switching.

// archiveError makes refusals of unsafe or corrupt archives non-retryable.
func archiveError(err error, archive string) error {
	var unsafe *safearchive.UnsafeEntryError
	if errors.As(err, &unsafe) {
		return permanent(ErrUnsafeArchive, err, "%s refused: %v", filepath.Base(archive), err)
	}
	if errors.Is(err, os.ErrExist) {
		return err
	}
	return permanent(ErrUnsafeArchive, err, "%s is not a valid tar.gz: %v", filepath.Base(archive), err)
}

// readVersion reads VERSION at the root of an extracted tree (inside its single top dir).
func readVersion(dir string) (string, error) {
	root, err := releaseRoot(dir)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(root, release.VersionFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", permanent(ErrVersionMismatch, nil, "release has no VERSION file at its root")
		}
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

func releaseRoot(dir string) (string, error) {
	top, err := safearchive.TopLevelDir(dir)
	if err != nil {
		return "", err
	}
	if top == "" {
		return dir, nil
	}
	return filepath.Join(dir, top), nil
}
