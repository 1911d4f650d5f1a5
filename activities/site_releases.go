package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/safearchive"
)

// A site's releases/ directory can be touched by more than one run: the workflow's site
// lock keeps a second deploy away, but a run started before the lock existed, or a lock an
// operator terminated, would not be. So the activities never share a temporary name between
// runs, and each run pins, until it can no longer roll back, the versions it may switch
// back to: another run's clean-up does not remove them.
const (
	// DefaultPinFor is how long a pin lasts when the run gives no end (runs started before
	// pins existed; a ReleaseDeploy run always passes its own end).
	DefaultPinFor = 24 * time.Hour
	// staleTemporaryAge is when a temporary name of another run counts as abandoned: older
	// than any run can last (time limit at most 24 h, plus its rollback).
	staleTemporaryAge = 48 * time.Hour
	pinsDir           = ".pins"
)

var runTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// runToken is the run's id for temporary names and pins: the input's, else the activity's run.
func runToken(ctx context.Context, run string) (string, error) {
	if run == "" {
		run = activity.GetInfo(ctx).WorkflowExecution.RunID
	}
	if !runTokenRE.MatchString(run) {
		return "", permanent(ErrInvalidInput, nil, "run %q is not a plain run id", run)
	}
	return run, nil
}

// ExtractRelease extracts the archived artifact beside the running version, checks its
// VERSION, then switches the symlink in one rename. Old versions are removed only after
// that; the previous one, and any a running deploy pinned, are always kept for rollback.
func (a *SiteActivities) ExtractRelease(ctx context.Context, in ExtractInput) (ExtractResult, error) {
	run, err := runToken(ctx, in.Run)
	if err != nil {
		return ExtractResult{}, err
	}
	if err := os.MkdirAll(a.releasesDir(), 0o755); err != nil {
		return ExtractResult{}, err
	}
	previous, err := a.DeployedVersion(ctx)
	if err != nil {
		return ExtractResult{}, err
	}
	if err := a.adoptPlainDirectory(previous, run); err != nil {
		return ExtractResult{}, err
	}
	target := filepath.Join(a.releasesDir(), a.releaseName(in.Version))
	currentTarget, _ := filepath.EvalSymlinks(a.currentLink())

	staging := filepath.Join(a.releasesDir(), ".staging-"+in.Version+"-"+run)
	if err := os.RemoveAll(staging); err != nil { // left over by a crashed attempt of this run
		return ExtractResult{}, err
	}
	activity.RecordHeartbeat(ctx, "extracting "+filepath.Base(in.ArchivePath))
	if _, err := safearchive.ExtractTarGzFile(in.ArchivePath, staging, safearchive.Options{}); err != nil {
		return ExtractResult{}, archiveError(err, in.ArchivePath)
	}
	defer os.RemoveAll(staging)
	root, err := releaseRoot(staging)
	if err != nil {
		return ExtractResult{}, err
	}
	got, err := readVersion(root)
	if err != nil {
		return ExtractResult{}, err
	}
	if got != in.Version {
		return ExtractResult{}, permanent(ErrVersionMismatch, nil,
			"site %s: %s contains VERSION %q, expected %q; the running version was not touched",
			a.Site.Name, filepath.Base(in.ArchivePath), got, in.Version)
	}

	if currentTarget != "" && sameFile(currentTarget, target) {
		// Redeploying the version that already runs: keep its directory, nothing to switch.
		return ExtractResult{Previous: previous, Current: in.Version}, nil
	}
	if err := a.pin(run, in.KeepUntil, previous, in.Version); err != nil {
		return ExtractResult{}, err
	}
	// A run that was cancelled or ran out of time meanwhile is rolling back: do not switch
	// under its rollback.
	activity.RecordHeartbeat(ctx, "switching to "+in.Version)
	if err := ctx.Err(); err != nil {
		return ExtractResult{}, fmt.Errorf("site %s: not switching to %s: %w", a.Site.Name, in.Version, err)
	}
	if err := os.RemoveAll(target); err != nil { // a stale, unused extraction of this version
		return ExtractResult{}, err
	}
	if err := os.Rename(root, target); err != nil {
		return ExtractResult{}, err
	}
	if err := a.switchTo(in.Version, run); err != nil {
		return ExtractResult{}, err
	}
	removed, err := a.pruneReleases(in.Version, previous)
	if err != nil {
		activity.GetLogger(ctx).Warn("could not remove old releases", "site", a.Site.Name, "error", err)
	}
	return ExtractResult{Previous: previous, Current: in.Version, Removed: removed}, nil
}

// RollbackRelease stops the services, switches back to the previous version and starts the
// services on it.
func (a *SiteActivities) RollbackRelease(ctx context.Context, in RollbackInput) (RollbackResult, error) {
	if in.Previous == "" {
		return RollbackResult{}, permanent(ErrNoPreviousVersion, nil,
			"site %s has no previous version of %s to roll back to: services %v stay STOPPED",
			a.Site.Name, a.Package, in.Services)
	}
	run, err := runToken(ctx, in.Run)
	if err != nil {
		return RollbackResult{}, err
	}
	dir := filepath.Join(a.releasesDir(), a.releaseName(in.Previous))
	if st, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) || (err == nil && !st.IsDir()) {
		// Retrying cannot bring a removed directory back: say so at once, services are stopped.
		return RollbackResult{}, permanent(ErrPreviousVersionMissing, err,
			"site %s: cannot roll back to %s: %s is missing; nothing was switched and services %v stay STOPPED",
			a.Site.Name, in.Previous, dir, in.Services)
	}
	got, err := readVersion(dir)
	if err != nil {
		return RollbackResult{}, fmt.Errorf("site %s: previous version %s at %s: %w", a.Site.Name, in.Previous, dir, err)
	}
	if got != in.Previous {
		return RollbackResult{}, permanent(ErrVersionMismatch, nil, "site %s: %s says VERSION %q, expected %q", a.Site.Name, dir, got, in.Previous)
	}
	// Services the failed attempt managed to start run the new code: stop them first.
	if _, err := a.StopServices(ctx, ServicesInput{Services: in.Services}); err != nil {
		return RollbackResult{}, err
	}
	if err := a.switchTo(in.Previous, run); err != nil {
		return RollbackResult{}, err
	}
	res, err := a.start(ctx, in.Services)
	if err != nil {
		return RollbackResult{}, err
	}
	a.unpin(ctx, run)
	return RollbackResult{Current: in.Previous, States: res.States}, nil
}

// switchTo points the package symlink at version's directory in a single rename, through a
// temporary symlink named after the run.
func (a *SiteActivities) switchTo(version, run string) error {
	tmp := filepath.Join(a.swDir(), "."+a.Package+".swap-"+run)
	_ = os.Remove(tmp) // left over by a crashed attempt of this run
	if err := os.Symlink(filepath.Join("releases", a.releaseName(version)), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, a.currentLink()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("site %s: switch %s to %s: %w", a.Site.Name, a.currentLink(), version, err)
	}
	return nil
}

// adoptPlainDirectory moves a hand-deployed sw/{Package} directory into releases/, so the
// first automated release can still roll back to it.
func (a *SiteActivities) adoptPlainDirectory(version, run string) error {
	st, err := os.Lstat(a.currentLink())
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	if version == "" {
		return permanent(ErrVersionMismatch, nil, "site %s: %s is a directory without VERSION; move it away by hand", a.Site.Name, a.currentLink())
	}
	dest := filepath.Join(a.releasesDir(), a.releaseName(version))
	if _, err := os.Stat(dest); err == nil {
		return permanent(ErrArchiveConflict, nil, "site %s: cannot adopt %s, %s exists", a.Site.Name, a.currentLink(), dest)
	}
	if err := os.Rename(a.currentLink(), dest); err != nil {
		return err
	}
	return a.switchTo(version, run)
}

// rollbackPin is releases/.pins/<run>.json: the versions a run may switch back to, and until
// when it may.
type rollbackPin struct {
	Run   string    `json:"run"`
	Keep  []string  `json:"keep"`
	Until time.Time `json:"until"`
}

// pin records that run may switch the site back to any of versions until until (zero:
// DefaultPinFor from now). Written before the switch, replaced atomically.
func (a *SiteActivities) pin(run string, until time.Time, versions ...string) error {
	if until.IsZero() {
		until = time.Now().Add(DefaultPinFor)
	}
	p := rollbackPin{Run: run, Until: until.UTC()}
	for _, v := range versions {
		if v != "" {
			p.Keep = append(p.Keep, v)
		}
	}
	dir := filepath.Join(a.releasesDir(), pinsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, run+".json")
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// unpin drops run's pin once the run can no longer switch back. Best effort: a pin left
// behind only keeps a version until it expires.
func (a *SiteActivities) unpin(ctx context.Context, run string) {
	path := filepath.Join(a.releasesDir(), pinsDir, run+".json")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		activity.GetLogger(ctx).Warn("could not remove a rollback pin", "site", a.Site.Name, "error", err)
	}
}

// pinnedVersions returns the release names pinned by runs that may still roll back, and
// removes the pins that expired. A pin that cannot be read keeps everything it might name:
// it fails toward keeping (the error is returned so nothing is pruned).
func (a *SiteActivities) pinnedVersions(now time.Time) (map[string]bool, error) {
	dir := filepath.Join(a.releasesDir(), pinsDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	pinned := map[string]bool{}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var p rollbackPin
		data, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(data, &p)
		}
		if err != nil {
			return nil, fmt.Errorf("rollback pin %s: %w", path, err)
		}
		if now.After(p.Until) {
			_ = os.Remove(path)
			continue
		}
		for _, v := range p.Keep {
			pinned[a.releaseName(v)] = true
		}
	}
	return pinned, nil
}

// pruneReleases removes extracted versions beyond KeepVersions, oldest first, never the
// current or previous one nor one a running deploy pinned, and temporary names of runs that
// ended long ago.
func (a *SiteActivities) pruneReleases(current, previous string) ([]string, error) {
	now := time.Now()
	pinned, err := a.pinnedVersions(now)
	if err != nil {
		return nil, err
	}
	a.removeStaleTemporaries(now)
	entries, err := os.ReadDir(a.releasesDir())
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{a.releaseName(current): true}
	if previous != "" {
		keep[a.releaseName(previous)] = true
	}
	type cand struct {
		name string
		mod  time.Time
	}
	var cands []cand
	for _, e := range entries {
		if !e.IsDir() || keep[e.Name()] || pinned[e.Name()] || !strings.HasPrefix(e.Name(), a.Package+"-") {
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
		if err := os.RemoveAll(filepath.Join(a.releasesDir(), c.name)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.name)
	}
	return removed, errors.Join(errs...)
}

// removeStaleTemporaries removes staging directories and swap symlinks that crashed runs
// left and that are older than any run can last. Best effort.
func (a *SiteActivities) removeStaleTemporaries(now time.Time) {
	for _, pattern := range []string{
		filepath.Join(a.releasesDir(), ".staging-*"),
		filepath.Join(a.swDir(), "."+a.Package+".swap-*"),
	} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if st, err := os.Lstat(p); err == nil && now.Sub(st.ModTime()) > staleTemporaryAge {
				_ = os.RemoveAll(p)
			}
		}
	}
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
