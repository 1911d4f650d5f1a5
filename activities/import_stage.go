package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/opsflow/opsflow/internal/checksum"
)

// DefaultCopyConcurrency is how many objects FetchPackage copies at once when
// ImportActivities.CopyConcurrency is 0. MD5 runs on one core at a time (about 0.9 GB/s
// here), slower than the disk: two objects at once let both cores hash, a third keeps the
// disk busy while another object's fsync or GET is pending (bench/copy measures it).
const DefaultCopyConcurrency = 3

// stageBeatEvery is how often staging records a heartbeat at most (the SDK sends at most one
// per throttle interval anyway; this only bounds the encoding work).
const stageBeatEvery = progressInterval / 4

// StageObject is one object for StageObjects: Key identifies it to the opener and in the
// heartbeat, Name in errors (e.g. s3://bucket/key), Path is the file's path inside the
// package (what its digests are recorded under), Dest the file it becomes, Size its length.
type StageObject struct {
	Key  string
	Name string
	Path string
	Dest string
	Size int64
}

// StageOpener opens the object's bytes from offset (a ranged GET for FetchPackage).
type StageOpener func(ctx context.Context, o StageObject, offset int64) (io.ReadCloser, error)

// StageOptions tune StageObjects; the zero value stages one object at a time, records the
// SHA-256 only, nowhere, and sends no heartbeat.
type StageOptions struct {
	// Algorithms are the digests computed while the bytes are written (SHA-256 always).
	Algorithms []string
	// Concurrency is how many objects are copied at once (0 or less: 1).
	Concurrency int
	// DigestsFile is where the digests are recorded durably (digestsFile), "" for nowhere.
	DigestsFile string
	// Heartbeat records the staging's progress (fetchProgress), nil for none.
	Heartbeat func(details any)
	// resume is the heartbeat of the attempt before (FetchPackage's).
	resume fetchProgress
}

// StageObjects is FetchPackage's local half, exported so that bench/copy times exactly it:
// it stages every object (Concurrency at once) through a part file under an exclusive flock,
// written and hashed in one pass (StageStream: the hashes run on the same buffers as the
// write, on other cores), fsynced, renamed into place and its directory fsynced, resuming an
// object from its heartbeat's offset and hash states; objects already staged keep their
// recorded digests (hashed from disk when none are recorded). The digests, with each file's
// stat fingerprint, are recorded in DigestsFile (while it runs and when done) for
// VerifyPackage. It returns what was recorded for every object, in objs' order, or the first
// error (the other copies are then cancelled).
func StageObjects(ctx context.Context, objs []StageObject, open StageOpener, opt StageOptions) ([]StagedFile, error) {
	algs := opt.Algorithms
	if !slices.Contains(algs, checksum.SHA256) {
		algs = append([]string{checksum.SHA256}, algs...)
	}
	s := &stager{open: open, algs: algs, file: opt.DigestsFile, known: loadDigests(opt.DigestsFile),
		tracker: newStageTracker(opt.Heartbeat, opt.resume)}
	defer s.tracker.stop()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(opt.Concurrency, 1))
	out := make([]StagedFile, len(objs))
	for i, o := range objs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			rec, err := s.stage(gctx, o)
			if err != nil {
				return err
			}
			out[i] = rec
			s.tracker.finished(o.Key, o.Size)
			return s.record(o.Path, rec, false)
		})
	}
	if err := g.Wait(); err != nil {
		_ = s.save() // keep what was staged for the retry
		return nil, err
	}
	if err := s.record("", StagedFile{}, true); err != nil {
		return nil, err
	}
	return out, nil
}

// stager holds one StageObjects call's shared state.
type stager struct {
	open    StageOpener
	algs    []string
	tracker *stageTracker

	mu        sync.Mutex // known, saved
	file      string
	known     map[string]StagedFile
	saved     time.Time
	saveMutex sync.Mutex // one save at a time
}

// recorded is what the digests file holds for o, when it still describes o's staged file.
// An attempt running beside this one may have recorded it since this one started: the file
// is read again once before giving up.
func (s *stager) recorded(o StageObject, st os.FileInfo) (StagedFile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, again := range []bool{false, true} {
		if again {
			for p, r := range loadDigests(s.file) {
				if _, ok := s.known[p]; !ok {
					s.known[p] = r
				}
			}
		}
		if r, ok := s.known[o.Path]; ok && r.describes(st) && r.has(s.algs) {
			return r, true
		}
	}
	return StagedFile{}, false
}

// record adds rec (when path is not "") and saves the digests file when the last save is
// older than a few seconds, or when final.
func (s *stager) record(path string, rec StagedFile, final bool) error {
	s.mu.Lock()
	if path != "" {
		s.known[path] = rec
	}
	due := final || time.Since(s.saved) >= 2*time.Second
	if due {
		s.saved = time.Now()
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	return s.save()
}

func (s *stager) save() error {
	if s.file == "" {
		return nil
	}
	s.saveMutex.Lock()
	defer s.saveMutex.Unlock()
	s.mu.Lock()
	snapshot := make(map[string]StagedFile, len(s.known))
	for p, r := range s.known {
		snapshot[p] = r
	}
	s.mu.Unlock()
	return saveDigests(s.file, snapshot)
}

// stageTracker is the fetch's heartbeat: the bytes staged and, per object in flight (or left
// in flight by the attempt before and not yet taken up), its offset and hash states.
type stageTracker struct {
	mu       sync.Mutex
	beat     func(any)
	objects  map[string]objectProgress
	complete int64
	last     time.Time
	// trailing sends a progress the throttle held back, so the last checkpoint before a stall
	// is the one heartbeated; stopped is set once staging returned.
	trailing *time.Timer
	stopped  bool
	// resume is the attempt before's progress, by key.
	resume map[string]objectProgress
}

func newStageTracker(beat func(any), resume fetchProgress) *stageTracker {
	t := &stageTracker{beat: beat, objects: map[string]objectProgress{}, resume: map[string]objectProgress{}}
	for _, o := range resume.objects() {
		t.objects[o.Key], t.resume[o.Key] = o, o
	}
	return t
}

// resumeOf is the attempt before's progress on key.
func (t *stageTracker) resumeOf(key string) (objectProgress, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.resume[key]
	return o, ok
}

// checkpoint records that key's part file holds p.Offset bytes, hashed into p.States.
func (t *stageTracker) checkpoint(key string, p checksum.Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.objects[key] = objectProgress{Key: key, Written: p.Offset, States: p.States}
	t.beatLocked(false)
}

// finished records that key is staged, size bytes.
func (t *stageTracker) finished(key string, size int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.objects, key)
	t.complete += size
	t.beatLocked(false)
}

// stop ends the heartbeats: staging returned.
func (t *stageTracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.trailing != nil {
		t.trailing.Stop()
	}
}

// beatNow records the heartbeat now (a wait, a hash of a staged file: no progress to add).
func (t *stageTracker) beatNow() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.beatLocked(true)
}

func (t *stageTracker) beatLocked(force bool) {
	if t.beat == nil || t.stopped {
		return
	}
	if wait := stageBeatEvery - time.Since(t.last); !force && wait > 0 {
		if t.trailing == nil {
			t.trailing = time.AfterFunc(wait, func() {
				t.mu.Lock()
				defer t.mu.Unlock()
				t.trailing = nil
				t.beatLocked(true)
			})
		}
		return
	}
	p := fetchProgress{Boot: bootID(), Bytes: t.complete}
	for _, o := range t.objects {
		p.Objects = append(p.Objects, o)
		p.Bytes += o.Written
	}
	slices.SortFunc(p.Objects, func(a, b objectProgress) int { return strings.Compare(a.Key, b.Key) })
	t.beat(p)
	t.last = time.Now()
}

// bootID names this boot of the host: a heartbeat recorded under another boot (or on another
// host) may count bytes the page cache held and the crash lost.
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// errStagedChanged is a staged file that changed while it was hashed: retryable.
var errStagedChanged = errors.New("changed while it was hashed")

// hashStaged hashes a staged file no digests are recorded for (staged by an attempt that
// stopped before recording them), heartbeating meanwhile.
func (s *stager) hashStaged(ctx context.Context, o StageObject) (StagedFile, error) {
	before, err := os.Stat(o.Dest)
	if err != nil {
		return StagedFile{}, err
	}
	sums, size, err := checksum.HashFileFrom(ctx, o.Dest, s.algs, checksum.Progress{}, progressInterval,
		func(checksum.Progress) { s.tracker.beatNow() })
	if err != nil {
		return StagedFile{}, err
	}
	after, err := os.Stat(o.Dest)
	if err != nil {
		return StagedFile{}, err
	}
	rec := stagedFileOf(after, sums)
	if !rec.describes(before) || size != after.Size() {
		return StagedFile{}, fmt.Errorf("staged %s %w", o.Path, errStagedChanged)
	}
	return rec, nil
}
