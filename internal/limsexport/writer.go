package limsexport

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/opsflow/opsflow/internal/fsync"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// Writer writes packages into the export area Root: <Root>/<kind>/<name>/, built in
// <Root>/.tmp-<id>/ and renamed into place whole, so that <Root>/<kind>/ never holds a
// partial package (the nsc-exporter uploads what it finds there).
type Writer struct {
	Root string
}

// Written is what Write left in the export area.
type Written struct {
	Dir   string
	Files int
	Bytes int64
	// AlreadyExported: an identical package was there (an earlier attempt wrote it).
	AlreadyExported bool
}

// Progress is told the package path of the read being copied and how many of its bytes
// are written.
type Progress func(path string, written int64)

// Write validates d and writes its package: the reads copied with their MD5 and size
// computed while writing (an MD5 the LIMS gave must match, else ErrChecksumMismatch), then
// the description file, every file and directory fsynced before the rename. The temporary
// directory is <Root>/.tmp-<sha256 of id> (id: the package's keyed hash, never its name).
// An identical package in place is AlreadyExported; a different one is ErrConflict. On any
// error nothing is left.
func (w Writer) Write(ctx context.Context, id string, d Description, progress Progress) (Written, error) {
	if err := d.Validate(); err != nil {
		return Written{}, err
	}
	if progress == nil {
		progress = func(string, int64) {}
	}
	sum := sha256.Sum256([]byte(id))
	tmp := filepath.Join(w.Root, ".tmp-"+hex.EncodeToString(sum[:8]))
	lock, err := lockFile(tmp + ".lock")
	if err != nil {
		return Written{}, err
	}
	defer func() {
		os.Remove(lock.Name()) // while still locked: a waiting locker sees the name gone (lockFile)
		lock.Close()
	}()
	if err := os.RemoveAll(tmp); err != nil { // what an interrupted attempt left
		return Written{}, err
	}
	defer os.RemoveAll(tmp)
	res, err := w.build(ctx, tmp, d, progress)
	if err != nil {
		return Written{}, err
	}
	kindDir := filepath.Join(w.Root, string(d.Kind))
	res.Dir = filepath.Join(kindDir, d.Name())
	if err := os.MkdirAll(kindDir, 0o755); err != nil {
		return Written{}, err
	}
	if err := syncDir(w.Root); err != nil {
		return Written{}, err
	}
	if err := os.Rename(tmp, res.Dir); err != nil {
		if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.ENOTDIR) {
			return Written{}, err
		}
		same, cerr := sameTree(tmp, res.Dir)
		if cerr != nil {
			return Written{}, cerr
		}
		if !same {
			return Written{}, itemError(d.ID, ErrConflict, "%s exists with other content; it is never overwritten", res.Dir)
		}
		res.AlreadyExported = true
		return res, nil
	}
	if err := syncDir(kindDir); err != nil {
		return Written{}, err
	}
	return res, syncDir(w.Root)
}

// build writes the package into tmp: the reads, then the description file last.
func (w Writer) build(ctx context.Context, tmp string, d Description, progress Progress) (Written, error) {
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return Written{}, err
	}
	var res Written
	var doc any = d.Analysis
	if d.Kind == samplepkg.KindSample {
		s := *d.Sample
		s.Reads = nil
		for _, r := range d.Reads {
			got, err := copyRead(ctx, d.ID, r, filepath.Join(tmp, filepath.FromSlash(r.Path)), progress)
			if err != nil {
				return Written{}, err
			}
			s.Reads = append(s.Reads, got)
			res.Files++
			res.Bytes += got.Size
		}
		doc = s
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return Written{}, err
	}
	data = append(data, '\n')
	if err := writeFileSync(filepath.Join(tmp, d.Kind.DescriptionFile(d.Name())), data); err != nil {
		return Written{}, err
	}
	res.Files++
	res.Bytes += int64(len(data))
	return res, syncTree(tmp)
}

// copyRead copies r.Source to dest, computing MD5 and size while writing, and refuses a
// source that changed meanwhile or whose MD5 is not the LIMS's.
func copyRead(ctx context.Context, id string, r SourceRead, dest string, progress Progress) (samplepkg.Read, error) {
	src, err := os.Open(r.Source)
	if err != nil {
		return samplepkg.Read{}, fmt.Errorf("LIMS item %s: read %s: %w", id, r.Path, err)
	}
	defer src.Close()
	before, err := src.Stat()
	if err != nil {
		return samplepkg.Read{}, err
	}
	if !before.Mode().IsRegular() {
		return samplepkg.Read{}, itemError(id, ErrMalformed, "read %s: source %s is not a regular file", r.Path, r.Source)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return samplepkg.Read{}, err
	}
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return samplepkg.Read{}, err
	}
	defer out.Close()
	h := md5.New()
	dst := io.MultiWriter(out, h)
	buf := make([]byte, 1<<20)
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return samplepkg.Read{}, err
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return samplepkg.Read{}, fmt.Errorf("write %s: %w", dest, err)
			}
			written += int64(n)
			progress(r.Path, written)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return samplepkg.Read{}, fmt.Errorf("LIMS item %s: read %s: %w", id, r.Path, rerr)
		}
	}
	after, err := os.Stat(r.Source)
	if err != nil || written != before.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return samplepkg.Read{}, itemError(id, ErrSourceChanged, "read %s: %s changed while it was copied", r.Path, r.Source)
	}
	if err := out.Sync(); err != nil {
		return samplepkg.Read{}, fmt.Errorf("sync %s: %w", dest, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if r.MD5 != "" && !strings.EqualFold(r.MD5, sum) {
		return samplepkg.Read{}, itemError(id, ErrChecksumMismatch, "read %s: the LIMS says MD5 %s, the file %s has %s", r.Path, strings.ToLower(r.MD5), r.Source, sum)
	}
	return samplepkg.Read{Path: r.Path, MD5: sum, Size: written}, nil
}

// lockFile takes an exclusive flock on path (created), or fails with ErrBusy while another
// attempt holds it. The holder removes the file before unlocking, so a locker that got the
// lock on a file no longer at path tries again.
func lockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, ErrBusy
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		a, err1 := f.Stat()
		b, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return f, nil
		}
		f.Close()
	}
}

// sameTree tells whether two directories hold the same regular files with the same bytes.
func sameTree(a, b string) (bool, error) {
	da, err := treeDigest(a)
	if err != nil {
		return false, err
	}
	db, err := treeDigest(b)
	if err != nil {
		return false, err
	}
	if len(da) != len(db) {
		return false, nil
	}
	for p, s := range da {
		if db[p] != s {
			return false, nil
		}
	}
	return true, nil
}

// treeDigest maps every file under root to its MD5; anything but files and directories
// maps to "" (never equal to a file's digest).
func treeDigest(root string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			out[rel] = "dir"
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := md5.Sum(data)
			out[rel] = hex.EncodeToString(sum[:])
		default:
			out[rel] = ""
		}
		return nil
	})
	return out, err
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// syncDir and syncTree make writes durable before they are published (internal/fsync).
var (
	syncDir  = fsync.Dir
	syncTree = fsync.Tree
)
