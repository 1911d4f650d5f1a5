// Package release is the vocabulary of the tsd-import release procedure: what a release tag
// looks like, the sites and their services, which sites a change touches, and how a site lays
// out its releases on disk (archive, extracted versions, the symlink, temporary names and
// rollback pins). No I/O, so workflows may call it; the activities do the file work.
package release

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a parsed release tag vX.Y.Z-rel.
type Version struct {
	Major, Minor, Patch int
}

// Tag is the canonical tag text.
func (v Version) Tag() string { return fmt.Sprintf("v%d.%d.%d-rel", v.Major, v.Minor, v.Patch) }

// Less orders versions so "the previous release" is well defined.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

var tagRE = regexp.MustCompile(`^v(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})-rel$`)

// ParseVersion accepts exactly vMAJOR.MINOR.PATCH-rel, the seed's rule; anything else is a
// typo an operator must see before a tag is pushed.
func ParseVersion(tag string) (Version, error) {
	m := tagRE.FindStringSubmatch(tag)
	if m == nil {
		hint := ""
		switch {
		case strings.TrimSpace(tag) != tag:
			hint = " (remove the surrounding whitespace)"
		case !strings.HasPrefix(tag, "v"):
			hint = " (it must start with v)"
		case !strings.HasSuffix(tag, "-rel"):
			hint = " (it must end with -rel)"
		}
		return Version{}, fmt.Errorf("release version %q is not of the form vX.Y.Z-rel%s", tag, hint)
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, nil
}
