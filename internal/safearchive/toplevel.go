package safearchive

import (
	"fmt"
	"os"
)

// TopLevelDir returns the name of the single top-level directory of an extracted tree,
// or "" when the root holds files, a symlink or several entries. Release tarballs come
// both with and without a wrapping "<name>-<version>/" directory, and callers need to
// know where the release actually starts.
func TopLevelDir(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("safearchive: %w", err)
	}
	if len(entries) == 1 && entries[0].IsDir() {
		return entries[0].Name(), nil
	}
	return "", nil
}
