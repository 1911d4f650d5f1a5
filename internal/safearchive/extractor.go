package safearchive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindSymlink
)

// extractor writes accepted entries beneath root. It remembers everything it created, so
// entries are checked against what this extraction made rather than against whatever the
// filesystem says: the root starts empty and nothing else writes to it.
type extractor struct {
	root    *os.Root
	opts    Options
	stats   Stats
	entries int
	created map[string]kind // cleaned path → kind, including implied parent directories
	// dirModes holds the permission bits of directories the archive lists explicitly.
	// They are applied only once everything is written, since a mode such as 0o500 would
	// otherwise stop the extraction from filling the directory.
	dirModes map[string]fs.FileMode
}

func newExtractor(root *os.Root, opts Options) *extractor {
	return &extractor{
		root:     root,
		opts:     opts,
		created:  map[string]kind{".": kindDir},
		dirModes: map[string]fs.FileMode{},
	}
}

// add checks one entry and, if it is acceptable, writes it; body supplies file content.
func (x *extractor) add(hdr *tar.Header, body io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // metadata, e.g. the commit id git archive records; not a file
	}
	if reason := unsafePathReason(hdr.Name); reason != "" {
		return unsafeEntry(hdr.Name, reason)
	}
	if reason := unsupportedTypeReason(hdr.Typeflag); reason != "" {
		return unsafeEntry(hdr.Name, reason)
	}
	x.entries++
	if x.entries > x.opts.MaxFiles {
		return unsafeEntry(hdr.Name, fmt.Sprintf("archive has more than %d entries (Options.MaxFiles)", x.opts.MaxFiles))
	}
	name := path.Clean(hdr.Name)
	if name == "." && hdr.Typeflag != tar.TypeDir {
		return unsafeEntry(hdr.Name, "entry names the target directory itself")
	}
	if err := x.makeParents(hdr.Name, name); err != nil {
		return err
	}
	if k, ok := x.created[name]; ok {
		if k == kindDir && hdr.Typeflag == tar.TypeDir {
			// "./" or a directory already implied by an earlier entry.
			x.dirModes[name] = permBits(hdr.Mode)
			return nil
		}
		return unsafeEntry(hdr.Name, "duplicate entry; it would overwrite an earlier one")
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.mkdir(hdr.Name, name); err != nil {
			return err
		}
		x.dirModes[name] = permBits(hdr.Mode)
		return nil
	case tar.TypeReg:
		return x.writeFile(hdr, name, body)
	case tar.TypeSymlink:
		return x.symlink(hdr, name)
	default: // tar.TypeLink, per unsupportedTypeReason
		return x.hardlink(hdr, name)
	}
}

func unsupportedTypeReason(typ byte) string {
	switch typ {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
		return ""
	case tar.TypeChar:
		return "character devices are not allowed"
	case tar.TypeBlock:
		return "block devices are not allowed"
	case tar.TypeFifo:
		return "FIFOs are not allowed"
	default:
		return fmt.Sprintf("unsupported entry type %q", typ)
	}
}

// makeParents creates the missing parent directories of name, refusing to go beneath
// anything but a directory so that no entry is ever written through a symlink.
func (x *extractor) makeParents(entry, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	prefix := ""
	for elem := range strings.SplitSeq(dir, "/") {
		prefix = path.Join(prefix, elem)
		switch x.created[prefix] {
		case kindDir:
			continue
		case kindSymlink:
			return unsafeEntry(entry, fmt.Sprintf("parent %q is a symlink; writing through it could escape the target directory", prefix))
		case kindFile:
			return unsafeEntry(entry, fmt.Sprintf("parent %q is not a directory", prefix))
		}
		if err := x.mkdir(entry, prefix); err != nil {
			return err
		}
	}
	return nil
}

// mkdir creates directory name on behalf of entry, which is either that directory or
// an entry beneath it.
func (x *extractor) mkdir(entry, name string) error {
	if err := x.root.Mkdir(name, dirPerm); err != nil {
		return entryFailed(entry, err)
	}
	if err := x.root.Chmod(name, dirPerm); err != nil { // undo the umask
		return entryFailed(entry, err)
	}
	x.created[name] = kindDir
	x.stats.Dirs++
	return nil
}

func (x *extractor) writeFile(hdr *tar.Header, name string, body io.Reader) error {
	if hdr.Size < 0 || hdr.Size > x.opts.MaxBytes-x.stats.Bytes {
		return unsafeEntry(hdr.Name, fmt.Sprintf("archive holds more than %d bytes (Options.MaxBytes)", x.opts.MaxBytes))
	}
	// Created owner-only and widened once complete, so that a sensitive file is never
	// readable by others while it is being written.
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return entryFailed(hdr.Name, err)
	}
	n, err := io.Copy(f, body)
	if err == nil {
		err = f.Chmod(permBits(hdr.Mode))
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return entryFailed(hdr.Name, err)
	}
	x.created[name] = kindFile
	x.stats.Files++
	x.stats.Bytes += n
	return nil
}

func (x *extractor) symlink(hdr *tar.Header, name string) error {
	if reason := unsafeSymlinkReason(name, hdr.Linkname); reason != "" {
		return unsafeEntry(hdr.Name, reason)
	}
	if err := x.root.Symlink(hdr.Linkname, name); err != nil {
		return entryFailed(hdr.Name, err)
	}
	x.created[name] = kindSymlink
	x.stats.Symlinks++
	return nil
}

func (x *extractor) hardlink(hdr *tar.Header, name string) error {
	if reason := unsafePathReason(hdr.Linkname); reason != "" {
		return unsafeEntry(hdr.Name, fmt.Sprintf("hard link target %q: %s", hdr.Linkname, reason))
	}
	// Only regular files: a hard link to a symlink would be a second, unchecked symlink.
	target := path.Clean(hdr.Linkname)
	if x.created[target] != kindFile {
		return unsafeEntry(hdr.Name, fmt.Sprintf("hard link target %q is not a regular file extracted earlier", hdr.Linkname))
	}
	if err := x.root.Link(target, name); err != nil {
		return entryFailed(hdr.Name, err)
	}
	x.created[name] = kindFile
	x.stats.Files++
	return nil
}

// applyDirModes gives the directories the archive listed their own permission bits,
// deepest first, so that a directory without search permission for its owner does not
// stop the ones beneath it from being changed. Implied directories keep dirPerm.
func (x *extractor) applyDirModes() error {
	names := make([]string, 0, len(x.dirModes))
	for name := range x.dirModes {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return depth(b) - depth(a) })
	for _, name := range names {
		if err := x.root.Chmod(name, x.dirModes[name]); err != nil {
			return fmt.Errorf("setting the mode of directory %q: %w", name, err)
		}
	}
	return nil
}

// depth orders paths for applyDirModes; the root "." comes last.
func depth(name string) int {
	if name == "." {
		return -1
	}
	return strings.Count(name, "/")
}

// permBits keeps the rwx bits of a tar mode; setuid, setgid and sticky are dropped so a
// release cannot plant privileged binaries.
func permBits(mode int64) fs.FileMode {
	return fs.FileMode(mode) & fs.ModePerm
}

// entryFailed reports an acceptable entry that could not be written, e.g. a full disk or
// a truncated archive.
func entryFailed(entry string, err error) error {
	return fmt.Errorf("extracting entry %q: %w", entry, err)
}
