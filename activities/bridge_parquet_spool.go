package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"
)

// spoolGets is how many NDJSON objects a conversion fetches at once: the objects are small
// (a record each), so the time goes to the requests' round trips, not to bandwidth.
const spoolGets = 16

// copyBuffers are the GETs' copy buffers, shared by the conversions.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// spool is a partition's NDJSON objects, each fetched once (the version listed) into one
// local temporary file at its offset, in key order, for both passes to read.
type spool struct {
	f    *os.File
	offs []int64 // source i is at [offs[i], offs[i+1])
}

// section is source i's bytes.
func (s *spool) section(i int) *io.SectionReader {
	return io.NewSectionReader(s.f, s.offs[i], s.offs[i+1]-s.offs[i])
}

func (s *spool) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// fetchSpool GETs every source (If-Match its listed ETag, spoolGets at a time) into a
// temporary file; memory is a copy buffer per GET whatever the objects' sizes.
func (a *BridgeParquetActivities) fetchSpool(ctx context.Context, srcs []source, sizes map[string]int64) (*spool, error) {
	f, err := os.CreateTemp(a.TempDir, "bridge-ndjson-*.ndjson")
	if err != nil {
		return nil, err
	}
	s := &spool{f: f, offs: make([]int64, len(srcs)+1)}
	for i, src := range srcs {
		s.offs[i+1] = s.offs[i] + sizes[src.Key]
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	done := make(chan error)
	var wg sync.WaitGroup
	for range min(spoolGets, len(srcs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := copyBuffers.Get().(*[]byte)
			defer copyBuffers.Put(buf)
			for i := range next {
				done <- a.fetchOne(ctx, srcs[i], s.f, s.offs[i], s.offs[i+1]-s.offs[i], *buf)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range srcs {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()
	var first error
	n := 0
	for err := range done {
		if err != nil && first == nil {
			first = err
			cancel()
		}
		if n++; n%256 == 0 {
			activity.RecordHeartbeat(ctx, convertProgress{Pass: 0, Sources: n})
		}
	}
	if first != nil {
		s.close()
		return nil, first
	}
	return s, nil
}

// fetchOne GETs one source's listed version into f at off; it must be size bytes.
func (a *BridgeParquetActivities) fetchOne(ctx context.Context, src source, f *os.File, off, size int64, buf []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out, err := a.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(src.Key), IfMatch: aws.String(src.ETag)})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
			return changedDuring(a.Bucket, src.Key)
		}
		return fmt.Errorf("get s3://%s/%s: %w", a.Bucket, src.Key, err)
	}
	defer out.Body.Close()
	n, err := io.CopyBuffer(io.NewOffsetWriter(f, off), io.LimitReader(out.Body, size+1), buf)
	if err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", a.Bucket, src.Key, err)
	}
	if n != size {
		return changedDuring(a.Bucket, src.Key)
	}
	return nil
}

func changedDuring(bucket, key string) error {
	return fmt.Errorf("s3://%s/%s changed during the conversion; the next attempt converts its new version", bucket, key)
}
