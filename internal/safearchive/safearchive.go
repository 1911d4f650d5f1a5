// Package safearchive extracts release tarballs on production hosts without trusting them:
// every entry is checked before anything is written, nothing can land outside the target
// directory, and a refused or broken archive leaves no trace.
package safearchive

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	defaultMaxFiles       = 100_000
	defaultMaxBytes int64 = 4 << 30

	// maxTrailingBytes bounds what may follow the tar end-of-archive marker. Tar writers
	// pad with zeros to a 10 KiB record; reading that padding lets gzip verify its checksum.
	maxTrailingBytes = 1 << 20

	// dirPerm is the mode of directories the archive implies without listing them, and of
	// every directory while extraction is under way.
	dirPerm fs.FileMode = 0o755
)

// Options bound what an archive may contain, so that a hostile or runaway tarball cannot
// exhaust the host's disk or inodes.
type Options struct {
	// MaxFiles bounds the number of archive entries of any type; zero or less means 100000.
	MaxFiles int
	// MaxBytes bounds the total uncompressed size of regular files; zero or less means 4 GiB.
	MaxBytes int64
}

func (o Options) withDefaults() Options {
	if o.MaxFiles <= 0 {
		o.MaxFiles = defaultMaxFiles
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = defaultMaxBytes
	}
	return o
}

// Stats reports what was extracted, so callers can log and sanity-check a release.
// Files counts regular files and hard links, Dirs every directory created (including
// parents the archive only implied), and Bytes the file content written.
type Stats struct {
	Files, Dirs, Symlinks int
	Bytes                 int64
}

// ExtractTarGz extracts the gzip-compressed tar stream r into dest, all or nothing, so a
// deployment never runs from a half-extracted or tampered release.
//
// dest must not exist yet; if it does, the error wraps fs.ErrExist. Entries are written to
// a temporary sibling directory (dest + ".partial-<random>") that is renamed to dest only
// once every entry was accepted and written; on any error it is removed. Entries are
// refused with an *UnsafeEntryError when they are absolute, contain "..", are symlinks
// or hard links leading outside dest, pass through a symlink, duplicate an earlier
// entry, are devices, FIFOs or other special files, or exceed opts. Files and listed
// directories keep their permission bits without setuid, setgid and sticky; dest and
// directories the archive only implies get 0755.
func ExtractTarGz(r io.Reader, dest string, opts Options) (Stats, error) {
	stats, err := extract(r, dest, opts)
	if err != nil {
		return Stats{}, fmt.Errorf("safearchive: extracting into %s: %w", dest, err)
	}
	return stats, nil
}

// ExtractTarGzFile is ExtractTarGz for an archive on disk; its errors name the archive.
func ExtractTarGzFile(path, dest string, opts Options) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("safearchive: %w", err)
	}
	defer f.Close()
	stats, err := extract(f, dest, opts)
	if err != nil {
		return Stats{}, fmt.Errorf("safearchive: extracting %s into %s: %w", path, dest, err)
	}
	return stats, nil
}

// extract stages the archive in a temporary sibling of dest and moves it into place.
func extract(r io.Reader, dest string, opts Options) (Stats, error) {
	if dest == "" {
		return Stats{}, errors.New("empty destination path")
	}
	dest = filepath.Clean(dest)
	if err := checkAbsent(dest); err != nil {
		return Stats{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), filepath.Base(dest)+".partial-")
	if err != nil {
		return Stats{}, fmt.Errorf("creating temporary directory: %w", err)
	}
	stats, err := extractInto(r, tmp, opts.withDefaults())
	if err == nil {
		// Checked again because extraction can take long; os.Rename would silently
		// replace an empty directory created meanwhile.
		err = checkAbsent(dest)
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		if rmErr := removeTree(tmp); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("removing temporary directory: %w", rmErr))
		}
		return Stats{}, err
	}
	return stats, nil
}

func checkAbsent(dest string) error {
	_, err := os.Lstat(dest)
	switch {
	case err == nil:
		return fmt.Errorf("destination %s: %w", dest, fs.ErrExist)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}

// extractInto writes every entry of the archive beneath dir, which must be empty.
func extractInto(r io.Reader, dir string, opts Options) (Stats, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Stats{}, err
	}
	defer root.Close()

	gz, err := gzip.NewReader(r)
	if err != nil {
		return Stats{}, fmt.Errorf("reading gzip header: %w", err)
	}
	defer gz.Close()

	x := newExtractor(root, opts)
	tr := tar.NewReader(gz)
	last := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, tar.ErrInsecurePath) {
			// Only with GODEBUG=tarinsecurepath=0; refuse with the same reasons as otherwise.
			return Stats{}, refuseInsecure(hdr.Name)
		}
		if err != nil {
			if last == "" {
				return Stats{}, fmt.Errorf("reading tar stream: %w", err)
			}
			return Stats{}, fmt.Errorf("reading tar stream after entry %q: %w", last, err)
		}
		if err := x.add(hdr, tr); err != nil {
			return Stats{}, err
		}
		last = hdr.Name
	}
	if err := drainGzip(gz); err != nil {
		return Stats{}, err
	}
	if err := root.Chmod(".", dirPerm); err != nil {
		return Stats{}, err
	}
	if err := x.applyDirModes(); err != nil {
		return Stats{}, err
	}
	return x.stats, nil
}

// drainGzip reads what follows the tar end-of-archive marker so that gzip verifies its
// checksum and length: a stream cut after the marker is still a broken download.
func drainGzip(gz io.Reader) error {
	n, err := io.Copy(io.Discard, io.LimitReader(gz, maxTrailingBytes+1))
	if err != nil {
		return fmt.Errorf("reading the end of the gzip stream: %w", err)
	}
	if n > maxTrailingBytes {
		return fmt.Errorf("more than %d bytes of data after the end of the tar archive", maxTrailingBytes)
	}
	return nil
}

// removeTree removes the temporary directory of a failed extraction. Directories listed
// with modes such as 0o500 have already been applied if only the final rename failed,
// and they stop a non-root owner from deleting their contents; so on failure every
// directory is made owner-writable and removal is tried once more.
func removeTree(dir string) error {
	if os.RemoveAll(dir) == nil {
		return nil
	}
	if root, err := os.OpenRoot(dir); err == nil {
		_ = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = root.Chmod(p, 0o700) // best effort; RemoveAll reports what is left
			}
			return nil
		})
		root.Close()
	}
	return os.RemoveAll(dir)
}
