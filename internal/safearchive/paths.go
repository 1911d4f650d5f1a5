package safearchive

import (
	"fmt"
	"path"
	"strings"
)

// unsafePathReason says why p, a slash-separated name from the archive, cannot be used
// as a path inside the target directory, or returns "" when it can. Any ".." element is
// refused, even a harmless one, since release tarballs never need them.
func unsafePathReason(p string) string {
	switch {
	case p == "":
		return "empty path"
	case strings.ContainsRune(p, '\\'):
		return "path contains a backslash"
	case path.IsAbs(p):
		return "absolute path"
	case hasDotDot(p):
		return "path escapes the target directory"
	}
	return ""
}

func hasDotDot(p string) bool {
	for elem := range strings.SplitSeq(p, "/") {
		if elem == ".." {
			return true
		}
	}
	return false
}

// unsafeSymlinkReason says why a symlink at link (a cleaned entry path) may not point to
// target, or returns "" when it may.
//
// The link's parents are real directories (entries never pass through symlinks), so
// leading ".." elements climb real directories and are safe while they do not climb
// above the root. A ".." after a name is refused: the name may be a symlink itself,
// possibly one extracted later, and then the kernel climbs from wherever it points.
// Every symlink thus resolves inside the root, and so do paths through chains of them.
func unsafeSymlinkReason(link, target string) string {
	switch {
	case target == "":
		return "symlink has an empty target"
	case strings.ContainsRune(target, '\\'):
		return fmt.Sprintf("symlink target %q contains a backslash", target)
	case path.IsAbs(target):
		return fmt.Sprintf("symlink target %q is absolute", target)
	}
	depth := strings.Count(link, "/")
	climbs, afterName := 0, false
	for elem := range strings.SplitSeq(target, "/") {
		switch elem {
		case "", ".":
		case "..":
			if afterName {
				return fmt.Sprintf("symlink target %q has \"..\" after a name, which could climb out through another symlink", target)
			}
			climbs++
			if climbs > depth {
				return fmt.Sprintf("symlink target %q points outside the target directory", target)
			}
		default:
			afterName = true
		}
	}
	return ""
}
