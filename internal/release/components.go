package release

import (
	"sort"
	"strings"
)

// ChangedComponents returns the component prefixes that any changed path falls under, sorted.
// A prefix ending in "/" matches a directory; otherwise it matches that exact file.
func ChangedComponents(changedPaths, components []string) []string {
	hit := map[string]bool{}
	for _, p := range changedPaths {
		for _, c := range components {
			if c == "" {
				continue
			}
			if p == c || (strings.HasSuffix(c, "/") && strings.HasPrefix(p, c)) || strings.HasPrefix(p, c+"/") {
				hit[c] = true
			}
		}
	}
	out := make([]string, 0, len(hit))
	for c := range hit {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
