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

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/s3store"
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

// fetchProgress is FetchPackage's heartbeat: the object being copied and how many of its
// bytes its part file holds. Objects before it in the listing are staged already (their
// final files exist with the object's size); a retry resumes Key from Written.
type fetchProgress struct {
	Key     string `json:"key"`
	Written int64  `json:"written"`
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
func (o stagedObject) complete() bool {
	st, err := os.Stat(o.dest)
	return err == nil && st.Mode().IsRegular() && st.Size() == o.size
}

// stageObject copies one object into o.dest through o.dest+".part", resuming from the
// offset in resume when it is this object's, heartbeating its progress while it copies,
// and renaming the part file to dest once it is complete and synced.
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
func (a *ImportActivities) stageObject(ctx context.Context, o stagedObject, resume fetchProgress) error {
	if err := os.MkdirAll(filepath.Dir(o.dest), 0o755); err != nil {
		return err
	}
	part, err := lockPart(ctx, o, resume)
	if err != nil || part == nil {
		return err
	}
	defer part.Close() // releases the lock, after the rename
	offset := int64(0)
	if resume.Key == o.key {
		offset = resume.Written
	}
	if st, err := part.Stat(); err != nil || st.Size() < offset || offset > o.size {
		offset = 0 // the part file lost what the heartbeat counted: start again
	}
	if err := part.Truncate(offset); err != nil { // drop bytes written after the last heartbeat
		return err
	}
	if _, err := part.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	// Durable before visible: the data (synced by copyObject's StageStream), then the name. A
	// host crash leaves either no dest or a complete one, which the size check above and a
	// retry rely on.
	if offset < o.size {
		if err := a.copyObject(ctx, o, part, offset); err != nil {
			return err
		}
	} else if err := part.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", part.Name(), err)
	}
	if err := os.Rename(part.Name(), o.dest); err != nil {
		return err
	}
	return syncDir(filepath.Dir(o.dest))
}

// copyObject streams the object from offset into part, heartbeating fetchProgress every
// progressBytes or progressInterval, whichever comes first.
func (a *ImportActivities) copyObject(ctx context.Context, o stagedObject, part *os.File, offset int64) error {
	body, err := s3store.GetRange(ctx, a.S3, a.Bucket, o.key, offset)
	if err != nil {
		return err
	}
	defer body.Close()
	reported, last := offset, time.Now()
	activity.RecordHeartbeat(ctx, fetchProgress{Key: o.key, Written: offset})
	written, err := StageStream(part, body, offset, fmt.Sprintf("s3://%s/%s", a.Bucket, o.key), func(written int64) {
		if written-reported >= progressBytes || time.Since(last) >= progressInterval {
			activity.RecordHeartbeat(ctx, fetchProgress{Key: o.key, Written: written})
			reported, last = written, time.Now()
		}
	})
	if err != nil {
		return err
	}
	if written != o.size {
		return fmt.Errorf("download s3://%s/%s: got %d bytes, the listing said %d", a.Bucket, o.key, written, o.size)
	}
	activity.RecordHeartbeat(ctx, fetchProgress{Key: o.key, Written: written})
	return nil
}

// StageStream is the local half of the staging copy: it writes body (read from byte offset)
// into part, which is positioned at offset, calls progress after each chunk and fsyncs part
// once body is exhausted. FetchPackage runs it on every object downloaded; bench/copy measures
// it against cp on local files, so the benchmark times the code the import runs.
func StageStream(part *os.File, body io.Reader, offset int64, name string, progress func(written int64)) (int64, error) {
	written, err := streamFrom(part, body, offset, name, progress)
	if err != nil {
		return written, err
	}
	if err := part.Sync(); err != nil {
		return written, fmt.Errorf("sync %s: %w", part.Name(), err)
	}
	return written, nil
}

// lockPart opens o's part file and takes an exclusive flock on it, waiting (and
// heartbeating resume, so the wait does not lose the progress to resume from) while
// another attempt holds it. It returns nil, nil when the object turned out to be staged
// meanwhile (a part file this attempt created for nothing is removed), and a retryable
// ErrStagingBusy error when the other attempt kept the lock for partLockWait.
func lockPart(ctx context.Context, o stagedObject, resume fetchProgress) (*os.File, error) {
	path := o.dest + ".part"
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
		if err == nil && o.complete() {
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
		activity.RecordHeartbeat(ctx, resume)
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

// syncDir fsyncs a directory, making the names created, renamed or removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// syncTree fsyncs every file and directory under root, root included, so that what a
// rename of root publishes is on disk before the rename.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", p, err)
		}
		return nil
	})
}
