package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/fsync"
)

// How often the import's copy and hash report progress: the SDK sends at most one
// heartbeat per throttle interval (0.8 × the heartbeat timeout), so reporting often costs
// nothing and keeps a multi-GB read alive under any heartbeat timeout above a few seconds.
const (
	progressInterval = time.Second
	progressBytes    = 8 << 20
	// partLockWait is how long an attempt waits for an earlier attempt, timed out by the
	// server but still running in some worker, to stop writing a part file. The earlier
	// attempt's context is cancelled at its next heartbeat (at most a throttle interval,
	// 60 s by default, after the timeout); past partLockWait the attempt fails, retryably.
	partLockWait = 2 * time.Minute
)

// fetchProgress is FetchPackage's heartbeat: the bytes staged so far (Bytes) and, for every
// object in flight, how many of its bytes its part file holds and the MD5 and SHA-256 states
// after exactly those bytes, so a retry continues the copy and its hashes from there.
// Objects not listed are staged already (their final files exist with the object's size) or
// not started. Boot is the host's boot id: after a reboot the part files may lack bytes the
// page cache held, and the objects start again. Key and Written are an older attempt's
// heartbeat (one object, no states): the part file's prefix is then hashed from disk.
type fetchProgress struct {
	Key     string           `json:"key,omitempty"`
	Written int64            `json:"written,omitempty"`
	Boot    string           `json:"boot,omitempty"`
	Bytes   int64            `json:"bytes,omitempty"`
	Objects []objectProgress `json:"objects,omitempty"`
}

// objectProgress is one object in flight: its part file holds Written bytes, hashed into
// States (by algorithm; none in an older attempt's heartbeat).
type objectProgress struct {
	Key     string            `json:"key"`
	Written int64             `json:"written"`
	States  map[string][]byte `json:"states,omitempty"`
	Boot    string            `json:"-"` // the heartbeat's, set by objects()
}

// objects lists p's objects in flight, an older attempt's single object included.
func (p fetchProgress) objects() []objectProgress {
	out := make([]objectProgress, 0, len(p.Objects)+1)
	if p.Key != "" {
		out = append(out, objectProgress{Key: p.Key, Written: p.Written})
	}
	for _, o := range p.Objects {
		o.Boot = p.Boot
		out = append(out, o)
	}
	return out
}

// stagedObject is one object of a package and the file it is staged into.
type stagedObject struct {
	key  string
	rel  string // the path inside the package
	size int64
	dest string
}

// complete tells whether the object is staged: only a finished, synced part file is ever
// renamed to dest, so a dest of the object's size holds the object.
func (o StageObject) complete() (os.FileInfo, bool) {
	st, err := os.Stat(o.Dest)
	return st, err == nil && st.Mode().IsRegular() && st.Size() == o.Size
}

// stage stages one object: kept when staged already (with its recorded digests, else hashed
// from disk), else copied into o.Dest through o.Dest+".part", resuming from the offset and
// hash states the attempt before heartbeated for it, and renamed to Dest once complete and
// synced.
//
// Two attempts of the fetch may run at once: the server starts a retry after a heartbeat
// timeout while the timed-out attempt, which the SDK does not stop, still writes. The part
// file is therefore written only under an exclusive flock(2) (lockPart): a second writer
// waits until the first stopped (its context is cancelled at its next heartbeat) and then
// resumes from the bytes the file holds, or finds the object staged. A lock was chosen over
// per-attempt part names (<name>.part-<attempt>) because it keeps one file per object (no
// prefix to copy from the previous attempt's file, no stale parts to collect) and makes the
// exclusion explicit rather than relying on two attempts never sharing an attempt number
// (a reset activity starts again at 1). flock is advisory and per host on some network
// filesystems (NFSv3 without lockd); the durable area is written by this host's worker only.
func (s *stager) stage(ctx context.Context, o StageObject) (StagedFile, error) {
	if st, ok := o.complete(); ok {
		if rec, ok := s.recorded(o, st); ok {
			return rec, nil
		}
		return s.hashStaged(ctx, o)
	}
	if err := os.MkdirAll(filepath.Dir(o.Dest), 0o755); err != nil {
		return StagedFile{}, err
	}
	part, err := lockPart(ctx, o, s.tracker.beatNow)
	if err != nil {
		return StagedFile{}, err
	}
	if part == nil { // staged meanwhile by the other attempt
		if st, ok := o.complete(); ok {
			if rec, ok := s.recorded(o, st); ok {
				return rec, nil
			}
		}
		return s.hashStaged(ctx, o)
	}
	defer part.Close() // releases the lock, after the rename
	from, err := s.resumePoint(ctx, o, part)
	if err != nil {
		return StagedFile{}, err
	}
	if err := part.Truncate(from.Offset); err != nil { // drop bytes written after the checkpoint
		return StagedFile{}, err
	}
	if _, err := part.Seek(from.Offset, io.SeekStart); err != nil {
		return StagedFile{}, err
	}
	s.tracker.checkpoint(o.Key, from)
	// Durable before visible: the data (synced by StageStream), then the name. A host crash
	// leaves either no dest or a complete one, which the size check above and a retry rely on.
	end := from
	if from.Offset < o.Size {
		body, err := s.open(ctx, o, from.Offset)
		if err != nil {
			return StagedFile{}, err
		}
		end, err = StageStream(ctx, part, body, s.algs, from, func(p checksum.Progress) { s.tracker.checkpoint(o.Key, p) })
		body.Close()
		if err != nil {
			return StagedFile{}, fmt.Errorf("download %s: %w", o.Name, err)
		}
	} else if err := part.Sync(); err != nil {
		return StagedFile{}, fmt.Errorf("sync %s: %w", part.Name(), err)
	}
	if end.Offset != o.Size {
		return StagedFile{}, fmt.Errorf("download %s: got %d bytes, the listing said %d", o.Name, end.Offset, o.Size)
	}
	sums, err := checksum.Finish(s.algs, end)
	if err != nil {
		return StagedFile{}, err
	}
	st, err := part.Stat()
	if err != nil {
		return StagedFile{}, err
	}
	if err := os.Rename(part.Name(), o.Dest); err != nil {
		return StagedFile{}, err
	}
	if err := syncDir(filepath.Dir(o.Dest)); err != nil {
		return StagedFile{}, err
	}
	return stagedFileOf(st, sums), nil
}

// resumePoint is where o's copy starts in part (locked): where the attempt before's heartbeat
// says, with its hash states, or with the prefix hashed from disk when it recorded none (an
// older attempt); byte 0 when there is no heartbeat for o, when the part file lost bytes the
// heartbeat counted, or when the host rebooted since (the part file may then hold bytes that
// were never written).
func (s *stager) resumePoint(ctx context.Context, o StageObject, part *os.File) (checksum.Progress, error) {
	r, ok := s.tracker.resumeOf(o.Key)
	if !ok || r.Written <= 0 || r.Written > o.Size || (r.Boot != "" && r.Boot != bootID()) {
		return checksum.Progress{}, nil
	}
	if st, err := part.Stat(); err != nil || st.Size() < r.Written {
		return checksum.Progress{}, nil
	}
	from := checksum.Progress{Offset: r.Written, States: r.States}
	if checksum.Restorable(s.algs, from) {
		return from, nil
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the prefix may be gigabytes: keep heartbeating
		for {
			select {
			case <-stop:
				return
			case <-time.After(progressInterval):
				s.tracker.beatNow()
			}
		}
	}()
	return checksum.HashPrefix(ctx, part.Name(), s.algs, r.Written)
}

// StageStream is the write of one object's bytes into its part file: it copies body (the
// object read from byte from.Offset) into part (positioned there) while it computes every
// digest in algorithms of the same bytes, concurrently (checksum.CopyHashed), continuing the
// hash states in from, calls checkpoint with the offset and states every progressBytes or
// progressInterval, whichever comes first, and fsyncs part once body is exhausted. It returns the final Progress
// (checksum.Finish gives the digests).
//
// The full chunks are written with O_DIRECT where the filesystem allows it (directWriter):
// through the page cache, the kernel's copy of every byte and its writeback cost about as
// much CPU as MD5 here (bench/copy), and the CPU is what the hashes need; the data is synced
// before the rename either way.
func StageStream(ctx context.Context, part *os.File, body io.Reader, algorithms []string, from checksum.Progress, checkpoint func(checksum.Progress)) (checksum.Progress, error) {
	w := newDirectWriter(part, from.Offset)
	end, err := checksum.CopyHashed(ctx, w, body, algorithms, from, progressBytes, progressInterval, checkpoint)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return checksum.Progress{}, err
	}
	if err := part.Sync(); err != nil {
		return checksum.Progress{}, fmt.Errorf("sync %s: %w", part.Name(), err)
	}
	return end, nil
}

// directWriter writes a part file from offset on: aligned writes of whole blocks through a
// second descriptor opened with O_DIRECT (no copy into the page cache, no writeback work),
// the rest (a last partial chunk, a resume from an unaligned offset) through part. Without
// O_DIRECT (tmpfs, some FUSE filesystems refuse it) everything goes through part.
type directWriter struct {
	part   *os.File
	direct *os.File
	off    int64
}

func newDirectWriter(part *os.File, offset int64) *directWriter {
	w := &directWriter{part: part, off: offset}
	if f, err := os.OpenFile(part.Name(), os.O_WRONLY|syscall.O_DIRECT, 0); err == nil {
		if sameOpenFile(f, part) {
			w.direct = f
		} else {
			f.Close()
		}
	}
	return w
}

// sameOpenFile tells whether a and b are open on the same file.
func sameOpenFile(a, b *os.File) bool {
	sa, err1 := a.Stat()
	sb, err2 := b.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// Write writes p at the writer's offset.
func (w *directWriter) Write(p []byte) (int, error) {
	const align = checksum.ChunkAlign
	if w.direct != nil && len(p) > 0 && w.off%align == 0 && len(p)%align == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(p)))%align == 0 {
		n, err := w.direct.WriteAt(p, w.off)
		w.off += int64(n)
		if !errors.Is(err, syscall.EINVAL) {
			return n, err
		}
		w.direct.Close() // an alignment this device does not take: buffered from here on
		w.direct = nil
		p = p[n:]
		m, err := w.part.WriteAt(p, w.off)
		w.off += int64(m)
		return n + m, err
	}
	n, err := w.part.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// Close closes the O_DIRECT descriptor (part stays open: it holds the lock).
func (w *directWriter) Close() error {
	if w.direct == nil {
		return nil
	}
	return w.direct.Close()
}

// lockPart opens o's part file and takes an exclusive flock on it, waiting (and
// heartbeating, so the wait does not lose the progress to resume from) while another
// attempt holds it. It returns nil, nil when the object turned out to be staged
// meanwhile (a part file this attempt created for nothing is removed), and a retryable
// ErrStagingBusy error when the other attempt kept the lock for partLockWait.
func lockPart(ctx context.Context, o StageObject, heartbeat func()) (*os.File, error) {
	path := o.Dest + ".part"
	deadline := time.Now().Add(partLockWait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil && !samePath(f, path) {
			f.Close() // the holder renamed it to dest before we locked: open the path again
			continue
		}
		if _, done := o.complete(); err == nil && done {
			_ = os.Remove(path) // ours, under the lock
			f.Close()
			return nil, nil
		}
		if err == nil {
			return f, nil
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return nil, temporal.NewApplicationError(fmt.Sprintf("another attempt still writes %s after %s: retrying later",
				filepath.Base(path), partLockWait), ErrStagingBusy)
		}
		heartbeat()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// samePath tells whether path still names the file f has open.
func samePath(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// syncDir and syncTree make writes durable before they are published (internal/fsync).
var (
	syncDir  = fsync.Dir
	syncTree = fsync.Tree
)
