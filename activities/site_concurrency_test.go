package activities

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/release"
)

// tarballFile writes a release tarball of version to a file and returns its path.
func tarballFile(t *testing.T, version string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tsd-import-"+version+".tar.gz")
	require.NoError(t, os.WriteFile(path, releaseTarball(t, version, goodService), 0o644))
	return path
}

func (f *siteFixture) extract(t *testing.T, in ExtractInput) ExtractResult {
	t.Helper()
	v, err := f.env().ExecuteActivity(f.acts.ExtractRelease, in)
	require.NoError(t, err)
	var ex ExtractResult
	require.NoError(t, v.Get(&ex))
	return ex
}

// The case: a v1.2.0 release extracting while a v1.1.0 release is still running on
// the same site pruned tsd-import-v1.0.0-rel, the first run's rollback target, so that run's
// rollback failed and the services stayed stopped. Whatever serialises runs above the site
// (the workflow's site lock), the site never removes a version a run may still roll back to.
func TestAnotherRunsExtractionNeverPrunesARollbackTarget(t *testing.T) {
	f := newSiteFixture(t)
	f.deploy(t, "v1.0.0-rel", goodService)
	_, err := f.env().ExecuteActivity(f.svc.StopServices, ServicesInput{Services: []string{"svc-a"}})
	require.NoError(t, err)

	// Run A switched to v1.1.0-rel and has yet to start the services; it may roll back to v1.0.0-rel.
	exA := f.extract(t, ExtractInput{Version: "v1.1.0-rel", ArchivePath: tarballFile(t, "v1.1.0-rel"), Run: "run-a", KeepUntil: time.Now().Add(time.Hour)})
	assert.Equal(t, "v1.0.0-rel", exA.Previous)
	// Run B extracts v1.2.0-rel meanwhile: with two versions kept it would remove v1.0.0-rel.
	exB := f.extract(t, ExtractInput{Version: "v1.2.0-rel", ArchivePath: tarballFile(t, "v1.2.0-rel"), Run: "run-b", KeepUntil: time.Now().Add(time.Hour)})
	assert.Equal(t, "v1.1.0-rel", exB.Previous)
	assert.Empty(t, exB.Removed, "v1.0.0-rel is run A's rollback target")
	assert.DirExists(t, filepath.Join(f.dir, "sw", "releases", "tsd-import-v1.0.0-rel"))

	// Run A's start fails: its rollback restores v1.0.0-rel and the service runs again.
	_, err = f.env().ExecuteActivity(f.acts.RollbackRelease, RollbackInput{Previous: "v1.0.0-rel", Failed: "v1.1.0-rel", Services: []string{"svc-a"}, Run: "run-a"})
	require.NoError(t, err)
	assert.Equal(t, "v1.0.0-rel", f.current(t))
	assert.Equal(t, "RUNNING", f.state(t))
	pins := filepath.Join(f.dir, "sw", "releases", ".pins")
	assert.NoFileExists(t, filepath.Join(pins, "run-a.json"), "run A rolled back: it needs no pin any more")
	assert.FileExists(t, filepath.Join(pins, "run-b.json"), "run B may still roll back")

	// Run B's services start: it no longer rolls back either.
	_, err = f.env().ExecuteActivity(f.svc.StartServices, ServicesInput{Services: []string{"svc-a"}, Run: "run-b"})
	require.NoError(t, err)
	assert.NoFileExists(t, filepath.Join(pins, "run-b.json"))
}

// A pin lasts until its run can no longer roll back; after that old versions go as before.
func TestExpiredRollbackPinsNoLongerKeepVersions(t *testing.T) {
	f := &siteFixture{dir: t.TempDir()}
	f.acts = &SiteFilesActivities{Site: release.Site{Name: "nsc", Dir: f.dir}, Package: "tsd-import", KeepVersions: 2}
	f.extract(t, ExtractInput{Version: "v1.0.0-rel", ArchivePath: tarballFile(t, "v1.0.0-rel"), Run: "run-0", KeepUntil: time.Now().Add(-time.Hour)})
	f.extract(t, ExtractInput{Version: "v1.1.0-rel", ArchivePath: tarballFile(t, "v1.1.0-rel"), Run: "run-a", KeepUntil: time.Now().Add(-time.Minute)})
	ex := f.extract(t, ExtractInput{Version: "v1.2.0-rel", ArchivePath: tarballFile(t, "v1.2.0-rel"), Run: "run-b", KeepUntil: time.Now().Add(time.Hour)})
	assert.Equal(t, []string{"tsd-import-v1.0.0-rel"}, ex.Removed, "run A ended long ago: v1.0.0-rel is not needed")
	pins, _ := filepath.Glob(filepath.Join(f.dir, "sw", "releases", ".pins", "*"))
	assert.Equal(t, []string{filepath.Join(f.dir, "sw", "releases", ".pins", "run-b.json")}, pins, "expired pins are removed, run B's stays")
}

// Two runs switching the same site at once (a broken lock, a run started before the lock)
// must not collide on a shared temporary name: before, both used sw/.tsd-import.swap, and
// one run removed or renamed the other's half-made symlink.
func TestTwoRunsSwitchingAtOnceUseTheirOwnTemporaryNames(t *testing.T) {
	dir := t.TempDir()
	acts := &SiteFilesActivities{Site: release.Site{Name: "nsc", Dir: dir}, Package: "tsd-import", KeepVersions: 10}
	f := &siteFixture{acts: acts, dir: dir}
	archives := map[string]string{}
	for _, v := range []string{"v1.1.0-rel", "v1.2.0-rel", "v1.3.0-rel", "v1.4.0-rel"} {
		archives[v] = tarballFile(t, v)
	}
	f.extract(t, ExtractInput{Version: "v1.1.0-rel", ArchivePath: archives["v1.1.0-rel"], Run: "run-0"})

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for run, versions := range map[string][2]string{"run-a": {"v1.1.0-rel", "v1.3.0-rel"}, "run-b": {"v1.2.0-rel", "v1.4.0-rel"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := f.env()
			for i := 0; i < 150; i++ {
				v := versions[i%2]
				if _, err := env.ExecuteActivity(acts.ExtractRelease, ExtractInput{Version: v, ArchivePath: archives[v], Run: run}); err != nil {
					errs <- fmt.Errorf("%s extracting %s: %w", run, v, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		failed = append(failed, err.Error())
	}
	assert.Empty(t, failed)
	leftovers, _ := filepath.Glob(filepath.Join(dir, "sw", ".tsd-import.swap*"))
	assert.Empty(t, leftovers, "no temporary symlink left behind")
}
