package safearchive_test

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// treeEntry is what walkTree saw of one path: its original mode (before walkTree made it
// readable), inode, size, content of a regular file, target of a symlink.
type treeEntry struct {
	mode    fs.FileMode
	ino     uint64
	size    int64
	content []byte
	link    string
}

// walkTree lists everything under root by slash-separated relative path, making every
// directory and file readable once its mode is recorded so that the check works without root privileges (and
// t.TempDir can remove it).
func walkTree(t *testing.T, root string) map[string]treeEntry {
	out := map[string]treeEntry{}
	var walk func(rel string)
	walk = func(rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		e := treeEntry{mode: fi.Mode(), size: fi.Size()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.ino = st.Ino
		}
		switch {
		case fi.IsDir():
			require.NoError(t, os.Chmod(p, 0o700))
			names, err := os.ReadDir(p)
			require.NoError(t, err)
			for _, n := range names {
				walk(path.Join(rel, n.Name()))
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			e.link, err = os.Readlink(p)
			require.NoError(t, err)
		}
		out[rel] = e
	}
	walk(".")
	// Contents once every mode is recorded: hard links share their mode.
	for rel, e := range out {
		if e.mode.IsRegular() {
			p := filepath.Join(root, filepath.FromSlash(rel))
			require.NoError(t, os.Chmod(p, 0o600))
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			e.content = b
			out[rel] = e
		}
	}
	return out
}

// resolvesOutside tells whether following the symlink at rel (slash-separated, relative to
// root) could leave root: its target is resolved element by element from the link's
// directory, following the symlinks found on disk; a missing element is taken as a
// directory, so a ".." after it counts too (stricter than the kernel, which stops there).
func resolvesOutside(root, rel string) bool {
	cur := splitPath(path.Dir(rel))
	target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil || path.IsAbs(target) {
		return true
	}
	todo := splitPath(target)
	for hops := 0; len(todo) > 0; {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return true
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := filepath.Join(append([]string{root}, append(cur, elem)...)...)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			if hops++; hops > 64 {
				return false // a loop: the kernel gives ELOOP, nothing is reached
			}
			next, err := os.Readlink(p)
			if err != nil || path.IsAbs(next) {
				return true
			}
			todo = append(splitPath(next), todo...)
			continue
		}
		cur = append(cur, elem)
	}
	return false
}

func splitPath(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// fuzzSeedFiles are the raw inputs kept for target in the repository's testdata/fuzz/<target>/
// (testdata/fuzz/README.md); testdata/fuzz/found/ is not read.
func fuzzSeedFiles(f *testing.F, target string) [][]byte {
	dir := filepath.Join("..", "..", "testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(f, err)
	var out [][]byte
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), ".md") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(f, err)
			out = append(out, b)
		}
	}
	return out
}
