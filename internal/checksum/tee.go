package checksum

import (
	"context"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Pipeline sizes of CopyHashed: chunks of chunkSize bytes, at most chunksInFlight of them
// between the read and the slowest consumer. Deep enough that a write stalled on the disk
// for a moment does not stall the hashes, small enough to stay out of the way of the cache.
// Every chunk but a stream's last is full, and starts at a ChunkAlign-aligned address, so a
// writer may write them with O_DIRECT.
const (
	chunkSize      = 1 << 20
	chunksInFlight = 8
	// ChunkAlign is the alignment of CopyHashed's chunks in memory (and of their sizes, but
	// for the last), what O_DIRECT asks of buffers on the usual block devices.
	ChunkAlign = 4096
)

// alignedBuffer is a chunkSize buffer starting at a ChunkAlign-aligned address.
func alignedBuffer() []byte {
	b := make([]byte, chunkSize+ChunkAlign)
	skip := (ChunkAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%ChunkAlign)) % ChunkAlign
	return b[skip : skip+chunkSize : skip+chunkSize]
}

// ErrNoState is CopyHashed's answer to a Progress past byte 0 whose states do not restore
// every algorithm: the caller hashes the prefix again (HashPrefix) or starts from byte 0.
var ErrNoState = errors.New("checksum: no restorable hash state for the offset")

// Restorable tells whether from can start CopyHashed or Finish for algorithms: byte 0, or
// a state of every algorithm that restores.
func Restorable(algorithms []string, from Progress) bool {
	_, err := restoreHashes(algorithms, from)
	return err == nil
}

func restoreHashes(algorithms []string, from Progress) ([]hash.Hash, error) {
	hashes := make([]hash.Hash, len(algorithms))
	for i, alg := range algorithms {
		h, err := newHash(alg)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	if from.Offset == 0 {
		return hashes, nil
	}
	if from.Offset < 0 || !restoreAll(hashes, algorithms, from.States) {
		return nil, ErrNoState
	}
	return hashes, nil
}

// Finish returns the digests of the bytes p covers (p.Offset bytes, hashed into p.States).
func Finish(algorithms []string, p Progress) (Digests, error) {
	hashes, err := restoreHashes(algorithms, p)
	if err != nil {
		return nil, err
	}
	sums := Digests{}
	for i, alg := range algorithms {
		sums[alg] = hex.EncodeToString(hashes[i].Sum(nil))
	}
	return sums, nil
}

// chunk is one buffer of the pipeline: read once, then written and hashed by every consumer
// at once; the last consumer done with it reports a checkpoint (when it is one) and recycles it.
type chunk struct {
	buf     []byte
	n       int
	end     int64 // stream offset after the chunk
	mark    bool  // a checkpoint: the hashers save their states after it
	states  [][]byte
	pending atomic.Int32
}

// CopyHashed copies src to dst (when dst is not nil) while it computes every digest in
// algorithms of the same bytes: the stream is read once into chunks that the writer and one
// goroutine per algorithm consume concurrently, so the hashes hide behind the write (and each
// other) wherever there are cores for them. It continues a stream of which from.Offset bytes
// were hashed into from.States already (dst is positioned after them; ErrNoState when the
// states do not restore), and reports a checkpoint after every bytes or, when the stream is
// slower, once interval passed (at the end of a chunk, so a stalled read reports nothing): the offset and
// the states of every hash after exactly that many bytes, which dst holds (its Write returned),
// so a resumed copy continues from the checkpoint with the same states. report is called from
// the pipeline's goroutines, one call at a time, in order; it should be quick. It stops with
// ctx's error when ctx is done, and returns the final Progress (Finish gives the digests).
func CopyHashed(ctx context.Context, dst io.Writer, src io.Reader, algorithms []string, from Progress, every int64, interval time.Duration, report func(Progress)) (Progress, error) {
	hashes, err := restoreHashes(algorithms, from)
	if err != nil {
		return Progress{}, err
	}
	if report == nil {
		report = func(Progress) {}
	}
	var (
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		failed.Store(true)
	}
	free := make(chan *chunk, chunksInFlight)
	for range chunksInFlight {
		free <- &chunk{buf: alignedBuffer(), states: make([][]byte, len(hashes))}
	}
	consumers := len(hashes)
	if dst != nil {
		consumers++
	}
	done := func(c *chunk) {
		if c.pending.Add(-1) != 0 {
			return
		}
		if c.mark && !failed.Load() {
			states := make(map[string][]byte, len(algorithms))
			for i, alg := range algorithms {
				states[alg] = c.states[i]
			}
			report(Progress{Offset: c.end, States: states})
		}
		free <- c
	}
	var wg sync.WaitGroup
	queues := make([]chan *chunk, 0, consumers)
	for i, h := range hashes {
		q := make(chan *chunk, chunksInFlight)
		queues = append(queues, q)
		wg.Go(func() {
			for c := range q {
				if !failed.Load() {
					h.Write(c.buf[:c.n])
					if c.mark {
						s, err := h.(encoding.BinaryMarshaler).MarshalBinary()
						if err != nil {
							fail(fmt.Errorf("checksum: save %s state: %w", algorithms[i], err))
						}
						c.states[i] = s
					}
				}
				done(c)
			}
		})
	}
	if dst != nil {
		q := make(chan *chunk, chunksInFlight)
		queues = append(queues, q)
		wg.Go(func() {
			for c := range q {
				if !failed.Load() {
					if _, err := dst.Write(c.buf[:c.n]); err != nil {
						fail(err)
					}
				}
				done(c)
			}
		})
	}
	offset, marked, markedAt := from.Offset, from.Offset, time.Now()
	for !failed.Load() {
		if err := ctx.Err(); err != nil {
			fail(err)
			break
		}
		c := <-free
		n, rerr := io.ReadFull(src, c.buf)
		if n > 0 {
			offset += int64(n)
			c.n, c.end, c.mark = n, offset, offset-marked >= every || (interval > 0 && time.Since(markedAt) >= interval)
			if c.mark {
				marked, markedAt = offset, time.Now()
			}
			c.pending.Store(int32(consumers))
			for _, q := range queues {
				q <- c
			}
		} else {
			free <- c
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			fail(fmt.Errorf("reading at byte %d: %w", offset, rerr))
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if failed.Load() {
		return Progress{}, firstErr
	}
	states, ok := saveAll(hashes, algorithms)
	if !ok {
		return Progress{}, fmt.Errorf("checksum: save hash states")
	}
	return Progress{Offset: offset, States: states}, nil
}

// HashPrefix hashes the first n bytes of the file at path into a Progress CopyHashed can
// continue from: how a copy resumed without saved states (an older attempt's heartbeat)
// catches up with the bytes its part file holds. It fails when the file is shorter than n.
func HashPrefix(ctx context.Context, path string, algorithms []string, n int64) (Progress, error) {
	f, err := os.Open(path)
	if err != nil {
		return Progress{}, fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	p, err := CopyHashed(ctx, nil, io.LimitReader(f, n), algorithms, Progress{}, n+1, 0, nil)
	if err != nil {
		return Progress{}, fmt.Errorf("checksum: %s: %w", path, err)
	}
	if p.Offset != n {
		return Progress{}, fmt.Errorf("checksum: %s holds %d bytes, not %d", path, p.Offset, n)
	}
	return p, nil
}
