package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/safearchive"
)

// ExtractRelease extracts the archived artifact beside the running version, checks its
// VERSION, then switches the symlink in one rename. Old versions are removed only after
// that; the previous one, and any a running deploy pinned, are always kept for rollback.
func (a *SiteFilesActivities) ExtractRelease(ctx context.Context, in ExtractInput) (ExtractResult, error) {
	run, err := runToken(ctx, in.Run)
	if err != nil {
		return ExtractResult{}, err
	}
	l := a.layout()
	if err := os.MkdirAll(l.ReleasesDir(), 0o755); err != nil {
		return ExtractResult{}, err
	}
	previous, err := a.DeployedVersion(ctx)
	if err != nil {
		return ExtractResult{}, err
	}
	if err := a.adoptPlainDirectory(previous, run); err != nil {
		return ExtractResult{}, err
	}
	target := l.ReleaseDir(in.Version)
	currentTarget, _ := filepath.EvalSymlinks(l.CurrentLink())

	staging := l.StagingDir(in.Version, run)
	defer os.RemoveAll(staging)
	root, err := a.stage(ctx, in, staging)
	if err != nil {
		return ExtractResult{}, err
	}
	if currentTarget != "" && sameFile(currentTarget, target) {
		// Redeploying the version that already runs: keep its directory, nothing to switch.
		return ExtractResult{Previous: previous, Current: in.Version}, nil
	}
	if err := pin(l, run, in.KeepUntil, previous, in.Version); err != nil {
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

// stage extracts the archive into staging (a fresh directory of this run) and checks its
// VERSION; it returns the release's root inside staging.
func (a *SiteFilesActivities) stage(ctx context.Context, in ExtractInput, staging string) (string, error) {
	if err := os.RemoveAll(staging); err != nil { // left over by a crashed attempt of this run
		return "", err
	}
	activity.RecordHeartbeat(ctx, "extracting "+filepath.Base(in.ArchivePath))
	if _, err := safearchive.ExtractTarGzFile(in.ArchivePath, staging, safearchive.Options{}); err != nil {
		return "", archiveError(err, in.ArchivePath)
	}
	root, err := releaseRoot(staging)
	if err != nil {
		return "", err
	}
	got, err := readVersion(root)
	if err != nil {
		return "", err
	}
	if got != in.Version {
		return "", permanent(ErrVersionMismatch, nil,
			"site %s: %s contains VERSION %q, expected %q; the running version was not touched",
			a.Site.Name, filepath.Base(in.ArchivePath), got, in.Version)
	}
	return root, nil
}

// switchTo points the package symlink at version's directory in a single rename, through a
// temporary symlink named after the run.
func (a *SiteFilesActivities) switchTo(version, run string) error {
	l := a.layout()
	tmp := l.SwapLink(run)
	_ = os.Remove(tmp) // left over by a crashed attempt of this run
	if err := os.Symlink(l.CurrentTarget(version), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, l.CurrentLink()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("site %s: switch %s to %s: %w", a.Site.Name, l.CurrentLink(), version, err)
	}
	return nil
}

// adoptPlainDirectory moves a hand-deployed sw/{Package} directory into releases/, so the
// first automated release can still roll back to it.
func (a *SiteFilesActivities) adoptPlainDirectory(version, run string) error {
	l := a.layout()
	st, err := os.Lstat(l.CurrentLink())
	if err != nil || st.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	if version == "" {
		return permanent(ErrVersionMismatch, nil, "site %s: %s is a directory without VERSION; move it away by hand", a.Site.Name, l.CurrentLink())
	}
	dest := l.ReleaseDir(version)
	if _, err := os.Stat(dest); err == nil {
		return permanent(ErrArchiveConflict, nil, "site %s: cannot adopt %s, %s exists", a.Site.Name, l.CurrentLink(), dest)
	}
	if err := os.Rename(l.CurrentLink(), dest); err != nil {
		return err
	}
	return a.switchTo(version, run)
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
