// Package samplepkg is the format of a sample package, the unit the tsd-import data movers
// (filelock-exporter) import: a directory named after the sample holding its reads and a
// <name>.sample JSON file that lists them with their MD5 and size. A package is published
// into the durable area's samples/<name> with a READY marker written last, the file the
// automation system waits for. No I/O: the activities read and move the files.
package samplepkg

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/opsflow/opsflow/internal/ident"
)

// ReadyMarker is the file the automation system waits for; it is written last.
const ReadyMarker = "READY"

// idKind is the kind under which package names are hashed (ident.Hasher.ID).
const idKind = "package"

// ID is the package's keyed hash: the form of its (sensitive) name that may appear in workflow
// ids, search attributes and logs.
func ID(h *ident.Hasher, name string) string { return h.ID(idKind, name) }

// CheckName accepts a package name that is a plain directory name.
func CheckName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return fmt.Errorf("package name %q is not a plain directory name", name)
	}
	if len(name) > MaxNameBytes {
		// The package's files are named after it (<name>.sample, <name>_R1.fastq.gz): a name
		// near the file system's 255-byte limit fails every write, on every retry.
		return fmt.Errorf("package name of %d bytes is longer than %d", len(name), MaxNameBytes)
	}
	return nil
}

// MaxNameBytes is the longest package name: room for the suffixes of the package's files
// within the file system's 255-byte file names.
const MaxNameBytes = 200

// Prefix is where a package's objects are in the import bucket.
func Prefix(name string) string { return name + "/" }

// SampleFileName is the file of a package that lists its reads.
func SampleFileName(name string) string { return name + ".sample" }

// SafePath accepts a slash-separated path that stays inside the package (see CheckPath).
func SafePath(p string) bool { return CheckPath(p) == nil }

// CheckPath is the rule from an object key (less the package prefix) or a listed read to a
// file under the package's directory: a relative slash-separated path whose every segment
// names a file or directory. An empty segment ("a//b", "/a", "a/"), "." or ".." is refused
// wherever it stands: "." would name the package directory itself (an object "<pkg>/." was
// once written over the staging directory) and ".." its parent. A NUL byte is refused too.
func CheckPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("path %q has an empty segment", p)
		case seg == "." || seg == "..":
			return fmt.Errorf("path %q has a %q segment", p, seg)
		case strings.ContainsRune(seg, 0):
			return fmt.Errorf("path %q has a NUL byte", p)
		}
	}
	return nil
}

// Layout names the durable area's directories of the import.
type Layout struct {
	// Durable is the production area.
	Durable string
}

// StagingRoot holds packages being copied and checked.
func (l Layout) StagingRoot() string { return filepath.Join(l.Durable, ".staging") }

// StagingDir is where the package with id (its hash, never its name) is staged.
func (l Layout) StagingDir(id string) string { return filepath.Join(l.StagingRoot(), id) }

// IsStagingDir tells a directory StagingDir made from anything else.
func (l Layout) IsStagingDir(dir string) bool {
	return dir != "" && filepath.Dir(dir) == l.StagingRoot()
}

// PublishedDir is where a verified package is published.
func (l Layout) PublishedDir(name string) string { return filepath.Join(l.Durable, "samples", name) }
