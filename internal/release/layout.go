package release

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Layout names the files of a released package on a site, the way the seed procedure lays
// them out under {Dir}/sw:
//
//	archive/<pkg>-<v>.tar.gz        every artifact the site received
//	releases/<pkg>-<v>/             extracted versions, the running one and the previous at least
//	releases/.pins/<run>.json       rollback pins (see Pin)
//	<pkg> -> releases/<pkg>-<v>     the symlink to the version that runs
//
// Temporary names carry the run id of the deploy that made them, so two runs never share one:
// releases/.staging-<v>-<run> (an extraction under way) and .<pkg>.swap-<run> (the next symlink).
type Layout struct {
	// Dir is the site's base directory.
	Dir string
	// Package is the released software's name, e.g. tsd-import.
	Package string
}

// SWDir is the package's software area of the site.
func (l Layout) SWDir() string { return filepath.Join(l.Dir, "sw") }

// ArchiveDir keeps every artifact the site received.
func (l Layout) ArchiveDir() string { return filepath.Join(l.SWDir(), "archive") }

// ReleasesDir holds the extracted versions.
func (l Layout) ReleasesDir() string { return filepath.Join(l.SWDir(), "releases") }

// CurrentLink is the symlink to the version that runs.
func (l Layout) CurrentLink() string { return filepath.Join(l.SWDir(), l.Package) }

// ReleaseName is the directory name of an extracted version (and the artifact's top directory).
func (l Layout) ReleaseName(version string) string { return ReleaseName(l.Package, version) }

// ReleaseDir is where version is extracted.
func (l Layout) ReleaseDir(version string) string {
	return filepath.Join(l.ReleasesDir(), l.ReleaseName(version))
}

// CurrentTarget is what CurrentLink holds for version: relative, so the site can be moved.
func (l Layout) CurrentTarget(version string) string {
	return filepath.Join("releases", l.ReleaseName(version))
}

// IsReleaseName tells an extracted version's directory from anything else in ReleasesDir.
func (l Layout) IsReleaseName(name string) bool {
	return strings.HasPrefix(name, l.Package+"-")
}

// StagingDir is where run extracts version before checking it.
func (l Layout) StagingDir(version, run string) string {
	return filepath.Join(l.ReleasesDir(), ".staging-"+version+"-"+run)
}

// SwapLink is the temporary symlink run renames over CurrentLink.
func (l Layout) SwapLink(run string) string {
	return filepath.Join(l.SWDir(), "."+l.Package+".swap-"+run)
}

// TemporaryPatterns are globs of every run's temporary names, for removing what crashed runs left.
func (l Layout) TemporaryPatterns() []string {
	return []string{
		filepath.Join(l.ReleasesDir(), ".staging-*"),
		filepath.Join(l.SWDir(), "."+l.Package+".swap-*"),
	}
}

// PinsDir holds the rollback pins.
func (l Layout) PinsDir() string { return filepath.Join(l.ReleasesDir(), ".pins") }

// PinFile is run's rollback pin.
func (l Layout) PinFile(run string) string { return filepath.Join(l.PinsDir(), run+".json") }

// StaleTemporaryAge is when a temporary name of another run counts as abandoned: older than
// any run can last (time limit at most 24 h, plus its rollback).
const StaleTemporaryAge = 48 * time.Hour

var runRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// CheckRun accepts a run id that can be part of a file name: temporary names and pins carry it.
func CheckRun(run string) error {
	if !runRE.MatchString(run) {
		return fmt.Errorf("run %q is not a plain run id", run)
	}
	return nil
}
