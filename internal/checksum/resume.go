package checksum

import (
	"context"
	"crypto/md5"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
)

// Progress is how far a resumable digest of a file got: the bytes hashed and the hash's
// marshalled state after them, small enough to travel in an activity heartbeat.
type Progress struct {
	Offset int64 `json:"offset"`
	// State is MD5FileFrom's MD5 state.
	State []byte `json:"state,omitempty"`
	// States are HashFileFrom's states, by algorithm.
	States map[string][]byte `json:"states,omitempty"`
}

// MD5FileFrom is MD5File for files too large to hash in one go: it starts from from (the
// last Progress an interrupted call reported, or the zero value) when that state restores
// and the file still holds that many bytes, else from the start, and calls report with the
// progress at most every interval and never less often. It stops when ctx is done.
func MD5FileFrom(ctx context.Context, path string, from Progress, interval time.Duration, report func(Progress)) (sum string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	h := md5.New()
	offset := int64(0)
	if st, err := f.Stat(); err == nil && from.Offset > 0 && from.Offset <= st.Size() && restore(h, from.State) == nil {
		offset = from.Offset
	} else {
		h.Reset()
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", 0, fmt.Errorf("checksum: %w", err)
	}
	buf := make([]byte, 1<<20)
	last := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		n, rerr := f.Read(buf)
		h.Write(buf[:n])
		offset += int64(n)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", 0, fmt.Errorf("checksum: reading %s: %w", path, rerr)
		}
		if time.Since(last) >= interval {
			if state, err := h.(encoding.BinaryMarshaler).MarshalBinary(); err == nil {
				report(Progress{Offset: offset, State: state})
			}
			last = time.Now()
		}
	}
	return hex.EncodeToString(h.Sum(nil)), offset, nil
}

func restore(h hash.Hash, state []byte) error {
	if len(state) == 0 {
		return fmt.Errorf("no state")
	}
	return h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
}

// VerifyMD5From is VerifyMD5 resumed from (see MD5FileFrom), reporting its progress. A file
// of the wrong size is refused before it is read.
func VerifyMD5From(ctx context.Context, path, want string, wantSize int64, from Progress, interval time.Duration, report func(Progress)) error {
	want, err := NormalizeHex(MD5, want)
	if err != nil {
		return err
	}
	if st, err := os.Stat(path); err != nil {
		return fmt.Errorf("checksum: %w", err)
	} else if wantSize >= 0 && st.Size() != wantSize {
		return &SizeMismatchError{Path: path, Want: wantSize, Got: st.Size()}
	}
	got, size, err := MD5FileFrom(ctx, path, from, interval, report)
	if err != nil {
		return err
	}
	if wantSize >= 0 && size != wantSize {
		return &SizeMismatchError{Path: path, Want: wantSize, Got: size}
	}
	return compare(path, MD5, want, got)
}
