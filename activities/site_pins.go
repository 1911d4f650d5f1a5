package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/release"
)

// A site's releases/ directory can be touched by more than one run: the workflow's site
// lock keeps a second deploy away, but a run started before the lock existed, or a lock an
// operator terminated, would not be. So the activities never share a temporary name between
// runs, and each run pins, until it can no longer roll back, the versions it may switch
// back to: another run's clean-up does not remove them (release.Pin).

// runToken is the run's id for temporary names and pins: the input's, else the activity's run.
func runToken(ctx context.Context, run string) (string, error) {
	if run == "" {
		run = activity.GetInfo(ctx).WorkflowExecution.RunID
	}
	if err := release.CheckRun(run); err != nil {
		return "", permanent(ErrInvalidInput, nil, "%v", err)
	}
	return run, nil
}

// pin records that run may switch the site back to any of versions until until (zero:
// release.DefaultPinFor from now). Written before the switch, replaced atomically.
func pin(l release.Layout, run string, until time.Time, versions ...string) error {
	data, err := release.NewPin(run, until, time.Now(), versions...).Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.PinsDir(), 0o755); err != nil {
		return err
	}
	path := l.PinFile(run)
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// unpin drops run's pin once the run can no longer switch back. Best effort: a pin left
// behind only keeps a version until it expires.
func unpin(ctx context.Context, site string, l release.Layout, run string) {
	if err := os.Remove(l.PinFile(run)); err != nil && !errors.Is(err, os.ErrNotExist) {
		activity.GetLogger(ctx).Warn("could not remove a rollback pin", "site", site, "error", err)
	}
}

// pinnedReleases returns the release names pinned by runs that may still roll back, and
// removes the pins that expired. A pin that cannot be read keeps everything it might name:
// it fails toward keeping (the error is returned so nothing is pruned).
func pinnedReleases(l release.Layout, now time.Time) (map[string]bool, error) {
	entries, err := os.ReadDir(l.PinsDir())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	pinned := map[string]bool{}
	for _, e := range entries {
		path := filepath.Join(l.PinsDir(), e.Name())
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(path)
		var p release.Pin
		if err == nil {
			p, err = release.ParsePin(data)
		}
		if err != nil {
			return nil, fmt.Errorf("rollback pin %s: %w", path, err)
		}
		if p.Expired(now) {
			_ = os.Remove(path)
			continue
		}
		for _, v := range p.Keep {
			pinned[l.ReleaseName(v)] = true
		}
	}
	return pinned, nil
}

// pruneReleases removes extracted versions beyond KeepVersions, oldest first, never the
// current or previous one nor one a running deploy pinned, and temporary names of runs that
// ended long ago.
func (a *SiteFilesActivities) pruneReleases(current, previous string) ([]string, error) {
	l := a.layout()
	now := time.Now()
	pinned, err := pinnedReleases(l, now)
	if err != nil {
		return nil, err
	}
	removeStaleTemporaries(l, now)
	entries, err := os.ReadDir(l.ReleasesDir())
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{l.ReleaseName(current): true}
	if previous != "" {
		keep[l.ReleaseName(previous)] = true
	}
	type cand struct {
		name string
		mod  time.Time
	}
	var cands []cand
	for _, e := range entries {
		if !e.IsDir() || keep[e.Name()] || pinned[e.Name()] || !l.IsReleaseName(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		cands = append(cands, cand{e.Name(), info.ModTime()})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].mod.After(cands[j].mod) })
	room := a.KeepVersions - len(keep)
	var removed []string
	var errs []error
	for i, c := range cands {
		if i < room {
			continue
		}
		if err := os.RemoveAll(filepath.Join(l.ReleasesDir(), c.name)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.name)
	}
	return removed, errors.Join(errs...)
}

// removeStaleTemporaries removes staging directories and swap symlinks that crashed runs
// left and that are older than any run can last. Best effort.
func removeStaleTemporaries(l release.Layout, now time.Time) {
	for _, pattern := range l.TemporaryPatterns() {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if st, err := os.Lstat(p); err == nil && now.Sub(st.ModTime()) > release.StaleTemporaryAge {
				_ = os.RemoveAll(p)
			}
		}
	}
}
