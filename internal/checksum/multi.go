package checksum

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"
)

// Digests is one file's lowercase hex digests by algorithm (SHA256, MD5).
type Digests map[string]string

func newHash(algorithm string) (hash.Hash, error) {
	switch algorithm {
	case SHA256:
		return sha256.New(), nil
	case MD5:
		return md5.New(), nil
	}
	return nil, fmt.Errorf("checksum: unsupported algorithm %q", algorithm)
}

// HashFileFrom computes every digest in algorithms of the file at path in ONE read pass, so a
// sample's reads are checked against both the manifest's SHA-256 and the .sample's MD5 while
// read once. The hashes run concurrently with each other and with the read of the next chunk,
// so hashing hides behind the disk where there are cores for it. Like MD5FileFrom it resumes
// from from (its States must hold a restorable state of every algorithm and the file at least
// from.Offset bytes, else it starts again), reports progress (Offset and States) at most every
// interval, and stops when ctx is done.
func HashFileFrom(ctx context.Context, path string, algorithms []string, from Progress, interval time.Duration, report func(Progress)) (Digests, int64, error) {
	hashes := make([]hash.Hash, len(algorithms))
	for i, alg := range algorithms {
		h, err := newHash(alg)
		if err != nil {
			return nil, 0, err
		}
		hashes[i] = h
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	offset := int64(0)
	if st, err := f.Stat(); err == nil && from.Offset > 0 && from.Offset <= st.Size() && restoreAll(hashes, algorithms, from.States) {
		offset = from.Offset
	} else {
		for _, h := range hashes {
			h.Reset()
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("checksum: %w", err)
	}
	bufs := [2][]byte{make([]byte, 1<<20), make([]byte, 1<<20)}
	n, rerr := io.ReadFull(f, bufs[0])
	last := time.Now()
	for cur := 0; ; cur = 1 - cur {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return nil, 0, fmt.Errorf("checksum: reading %s: %w", path, rerr)
		}
		chunk := bufs[cur][:n]
		var wg sync.WaitGroup
		for _, h := range hashes {
			wg.Go(func() { h.Write(chunk) })
		}
		offset += int64(n)
		done := rerr != nil // EOF or a short last read
		if !done {
			n, rerr = io.ReadFull(f, bufs[1-cur]) // the next chunk, while this one is hashed
		}
		wg.Wait()
		if done {
			break
		}
		if time.Since(last) >= interval {
			if states, ok := saveAll(hashes, algorithms); ok {
				report(Progress{Offset: offset, States: states})
			}
			last = time.Now()
		}
	}
	sums := Digests{}
	for i, alg := range algorithms {
		sums[alg] = hex.EncodeToString(hashes[i].Sum(nil))
	}
	return sums, offset, nil
}

func restoreAll(hashes []hash.Hash, algorithms []string, states map[string][]byte) bool {
	for i, alg := range algorithms {
		if restore(hashes[i], states[alg]) != nil {
			return false
		}
	}
	return true
}

func saveAll(hashes []hash.Hash, algorithms []string) (map[string][]byte, bool) {
	states := map[string][]byte{}
	for i, alg := range algorithms {
		s, err := hashes[i].(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, false
		}
		states[alg] = s
	}
	return states, true
}
