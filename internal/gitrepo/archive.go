package gitrepo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ArchiveTarGz writes a gzipped tarball of ref to w, every entry under prefix (e.g.
// "tsd-import-v1.2.3-rel/"). virtualFiles (path → content) are added under the same
// prefix without being committed, e.g. VERSION, so the artifact states what it is.
// It needs git 2.38 or later for --add-virtual-file.
func (r *Repo) ArchiveTarGz(ctx context.Context, ref, prefix string, virtualFiles map[string]string, w io.Writer) error {
	if err := checkRevision("ref", ref); err != nil {
		return err
	}
	args := []string{"archive", "--format=tar.gz"}
	paths := make([]string, 0, len(virtualFiles))
	for p := range virtualFiles {
		if p == "" || strings.Contains(p, ":") {
			return fmt.Errorf("gitrepo: invalid virtual file path %q for archive of %s", p, ref)
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// The documentation says a virtual file gets the last --prefix given before it, but
	// git ignored it until 2.46 (2.39 puts VERSION at the archive root). Giving the full
	// path before any --prefix yields the same archive with every git version.
	for _, p := range paths {
		args = append(args, "--add-virtual-file="+prefix+p+":"+virtualFiles[p])
	}
	args = append(args, "--prefix="+prefix, ref)
	return r.run(ctx, w, nil, args...)
}
