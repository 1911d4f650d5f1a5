package safearchive

import (
	"archive/zip"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Default ZipLimits, as the worker's defaults (config.Bridge): an archive of a mobile
// assessment holds a handful of JSON files of a few MiB at most.
const (
	defaultZipEntries       = 1000
	defaultZipBytes   int64 = 1 << 30
	defaultZipRatio         = 200
	// ratioFloor: an entry that inflates to at most this much is never refused for its
	// ratio. Tiny, repetitive JSON files legitimately compress 100:1 or more and cannot hurt;
	// the ratio limit is for entries that would otherwise inflate a lot before MaxBytes stops them.
	ratioFloor int64 = 1 << 20
)

// ZipLimits bound what one ZIP archive may inflate to, so a hostile or broken archive cannot
// exhaust a worker's memory, disk or time. They are enforced on the bytes actually inflated,
// never on the sizes the archive declares alone.
type ZipLimits struct {
	// MaxEntries bounds the archive's entries (files and directories); <= 0 means 1000.
	MaxEntries int
	// MaxBytes bounds the total uncompressed size of all files; <= 0 means 1 GiB.
	MaxBytes int64
	// MaxRatio bounds each file's uncompressed/compressed size ratio once it inflated past
	// 1 MiB; <= 0 means 200.
	MaxRatio int
}

func (l ZipLimits) withDefaults() ZipLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = defaultZipEntries
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultZipBytes
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = defaultZipRatio
	}
	return l
}

// ZipProblem classifies why a ZIP archive was refused, so a caller can tell an archive that
// is broken (truncated, corrupt) from one that is hostile or too large.
type ZipProblem string

// The reasons OpenZip refuses an archive.
const (
	// ZipMalformed: not a ZIP, truncated, corrupt (CRC, sizes), or using an unsupported
	// compression method or encryption.
	ZipMalformed ZipProblem = "malformed"
	// ZipUnsafeName: an entry name that would leave the archive (absolute, "..", backslash,
	// drive letter), is empty, not canonical or holds control characters.
	ZipUnsafeName ZipProblem = "unsafe name"
	// ZipLink: a symbolic link or other non-regular entry.
	ZipLink ZipProblem = "link"
	// ZipDuplicate: two entries of the same name.
	ZipDuplicate ZipProblem = "duplicate"
	// ZipTooLarge: more entries, more inflated bytes or a higher ratio than ZipLimits allow,
	// or entries sharing compressed data (an overlapping-entries bomb).
	ZipTooLarge ZipProblem = "too large"
)

// ZipError is OpenZip's refusal: which entry (empty for the archive as a whole), what kind
// of problem, and why.
type ZipError struct {
	Entry   string
	Problem ZipProblem
	Reason  string
	Err     error // the underlying archive/zip or I/O error, if any
}

// Error names the entry first, as operators look for it.
func (e *ZipError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("zip archive refused (%s): %s", e.Problem, e.Reason)
	}
	return fmt.Sprintf("zip entry %q refused (%s): %s", e.Entry, e.Problem, e.Reason)
}

// Unwrap gives the underlying error, e.g. zip.ErrChecksum or io.ErrUnexpectedEOF.
func (e *ZipError) Unwrap() error { return e.Err }

func zipErr(entry string, p ZipProblem, err error, format string, args ...any) *ZipError {
	return &ZipError{Entry: entry, Problem: p, Reason: fmt.Sprintf(format, args...), Err: err}
}

// ZipEntry is one accepted entry of a ZipArchive.
type ZipEntry struct {
	// Name is the entry's name in the archive: relative, slash-separated, canonical; a
	// directory's name ends with "/".
	Name string
	// Dir reports a directory entry (it has no content).
	Dir bool
	// Size is the entry's uncompressed size, verified by inflating it.
	Size int64
	file *zip.File
}

// ZipArchive is a ZIP file on disk that OpenZip accepted: every entry's name, type and
// content were checked and every file inflated within the limits, so reading it again
// cannot fail for the archive's sake (only for the disk's).
type ZipArchive struct {
	rc      *zip.ReadCloser
	entries []ZipEntry
	byName  map[string]int
}

// OpenZip opens the ZIP archive at path and refuses it with a *ZipError unless every entry
// is a regular file or directory with a safe, unique name, and every file inflates (CRC
// checked) within limits. The whole archive is inflated once, to a discarding writer, while
// counting: memory stays bounded whatever the archive declares. The caller closes the archive.
func OpenZip(path string, limits ZipLimits) (*ZipArchive, error) {
	limits = limits.withDefaults()
	rc, err := zip.OpenReader(path)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		var pe *fs.PathError
		if errors.As(err, &pe) && !errors.Is(err, zip.ErrFormat) {
			return nil, fmt.Errorf("safearchive: opening %s: %w", path, err)
		}
		return nil, zipErr("", ZipMalformed, err, "not a readable ZIP archive (truncated or corrupt): %v", err)
	}
	a := &ZipArchive{rc: rc, byName: map[string]int{}}
	if err := a.check(limits); err != nil {
		rc.Close()
		return nil, err
	}
	return a, nil
}

// check applies every rule; the archive's content is inflated last, once the cheap checks passed.
func (a *ZipArchive) check(limits ZipLimits) error {
	files := a.rc.File
	if len(files) > limits.MaxEntries {
		return zipErr("", ZipTooLarge, nil, "%d entries, more than the limit of %d", len(files), limits.MaxEntries)
	}
	var declared uint64
	for _, f := range files {
		if err := checkZipHeader(f); err != nil {
			return err
		}
		name := f.Name
		if _, dup := a.byName[strings.TrimSuffix(name, "/")]; dup {
			return zipErr(name, ZipDuplicate, nil, "the archive holds this name twice")
		}
		a.byName[strings.TrimSuffix(name, "/")] = len(a.entries)
		dir := strings.HasSuffix(name, "/")
		a.entries = append(a.entries, ZipEntry{Name: name, Dir: dir, Size: int64(f.UncompressedSize64), file: f})
		if f.UncompressedSize64 > uint64(limits.MaxBytes)-declared { // no overflow: declared <= MaxBytes
			return zipErr(name, ZipTooLarge, nil, "the archive declares more than %d uncompressed bytes", limits.MaxBytes)
		}
		declared += f.UncompressedSize64
	}
	if err := a.checkOverlap(); err != nil {
		return err
	}
	return a.inflateAll(limits)
}

// checkZipHeader refuses an entry by its name and header alone.
func checkZipHeader(f *zip.File) error {
	name := f.Name
	if reason := unsafeZipName(name); reason != "" {
		return zipErr(name, ZipUnsafeName, nil, "%s", reason)
	}
	mode := f.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return zipErr(name, ZipLink, nil, "symbolic links are not accepted")
	case mode&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeCharDevice|fs.ModeIrregular) != 0:
		return zipErr(name, ZipLink, nil, "special file (mode %s) is not accepted", mode)
	case strings.HasSuffix(name, "/") != mode.IsDir():
		return zipErr(name, ZipLink, nil, "directory flag and name disagree (mode %s)", mode)
	case f.Flags&0x1 != 0:
		return zipErr(name, ZipMalformed, nil, "encrypted entries are not supported")
	case f.Method != zip.Store && f.Method != zip.Deflate:
		return zipErr(name, ZipMalformed, nil, "compression method %d is not supported (store or deflate)", f.Method)
	case strings.HasSuffix(name, "/") && f.UncompressedSize64 != 0:
		return zipErr(name, ZipMalformed, nil, "directory entry has content")
	}
	return nil
}

// unsafeZipName says why name cannot be used as a relative path inside the archive, or "".
func unsafeZipName(name string) string {
	trimmed := strings.TrimSuffix(name, "/")
	switch {
	case trimmed == "":
		return "empty name"
	case strings.ContainsRune(name, '\\'):
		return "name contains a backslash"
	case len(name) >= 2 && name[1] == ':' && (name[0]|0x20 >= 'a' && name[0]|0x20 <= 'z'):
		return "name starts with a drive letter"
	case path.IsAbs(name):
		return "absolute name"
	case hasDotDot(trimmed):
		return "name leaves the archive (\"..\")"
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return "name contains a control character"
	case path.Clean(trimmed) != trimmed:
		return "name is not canonical (\".\", empty elements)"
	}
	return ""
}

// checkOverlap refuses entries whose compressed data overlap: the "overlapping files" bomb
// shares one compressed kernel between many entries.
func (a *ZipArchive) checkOverlap() error {
	type span struct {
		name       string
		start, end int64
	}
	spans := make([]span, 0, len(a.entries))
	for _, e := range a.entries {
		off, err := e.file.DataOffset()
		if err != nil {
			return zipErr(e.Name, ZipMalformed, err, "local header unreadable: %v", err)
		}
		spans = append(spans, span{e.Name, off, off + int64(e.file.CompressedSize64)})
	}
	slices.SortFunc(spans, func(x, y span) int { return cmp.Compare(x.start, y.start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return zipErr(spans[i].name, ZipTooLarge, nil, "its compressed data overlaps entry %q's (an overlapping-entries bomb)", spans[i-1].name)
		}
	}
	return nil
}

// inflateAll inflates every file once, counting the bytes as they come.
func (a *ZipArchive) inflateAll(limits ZipLimits) error {
	var total int64
	buf := make([]byte, 64<<10)
	for _, e := range a.entries {
		if e.Dir {
			continue
		}
		r, err := e.file.Open()
		if err != nil {
			return zipErr(e.Name, ZipMalformed, err, "cannot be opened: %v", err)
		}
		var n int64
		for {
			k, rerr := r.Read(buf)
			n += int64(k)
			total += int64(k)
			if total > limits.MaxBytes {
				r.Close()
				return zipErr(e.Name, ZipTooLarge, nil, "the archive inflates past %d bytes", limits.MaxBytes)
			}
			if n > ratioFloor && n > int64(limits.MaxRatio)*max(int64(e.file.CompressedSize64), 1) {
				r.Close()
				return zipErr(e.Name, ZipTooLarge, nil, "inflates more than %d times its %d compressed bytes", limits.MaxRatio, e.file.CompressedSize64)
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				r.Close()
				return zipErr(e.Name, ZipMalformed, rerr, "corrupt or truncated after %d bytes: %v", n, rerr)
			}
		}
		r.Close()
		if n != e.Size {
			return zipErr(e.Name, ZipMalformed, nil, "inflated to %d bytes, the archive declares %d", n, e.Size)
		}
	}
	return nil
}

// Entries are the archive's entries in archive order, directories included.
func (a *ZipArchive) Entries() []ZipEntry { return slices.Clone(a.entries) }

// Has reports whether the archive holds a file named name.
func (a *ZipArchive) Has(name string) bool {
	i, ok := a.byName[name]
	return ok && !a.entries[i].Dir
}

// ReadFile returns the content of the file named name (fs.ErrNotExist if there is none).
// It reads at most the verified size, and verifies the CRC again.
func (a *ZipArchive) ReadFile(name string) ([]byte, error) {
	i, ok := a.byName[name]
	if !ok || a.entries[i].Dir {
		return nil, fmt.Errorf("zip entry %q: %w", name, fs.ErrNotExist)
	}
	e := a.entries[i]
	r, err := e.file.Open()
	if err != nil {
		return nil, fmt.Errorf("zip entry %q: %w", name, err)
	}
	defer r.Close()
	b := bytes.NewBuffer(make([]byte, 0, e.Size))
	if _, err := io.Copy(b, io.LimitReader(r, e.Size+1)); err != nil {
		return nil, fmt.Errorf("zip entry %q: %w", name, err)
	}
	if int64(b.Len()) != e.Size || crc32.ChecksumIEEE(b.Bytes()) != e.file.CRC32 {
		return nil, fmt.Errorf("zip entry %q changed since the archive was opened", name)
	}
	return b.Bytes(), nil
}

// Close releases the archive's file.
func (a *ZipArchive) Close() error { return a.rc.Close() }
