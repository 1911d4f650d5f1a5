package activities

import (
	"fmt"
	"io"
)

// streamFrom copies body (an S3 object read from byte offset) into dst and calls progress
// with the bytes written so far after each chunk, so a long download heartbeats and a retry
// resumes where it stopped. The release artifact downloads this way (the import's objects go
// through StageStream, which hashes the bytes as it writes them); what a heartbeat carries,
// and how often, is the caller's (progress may throttle).
// name is the object, for the error.
func streamFrom(dst io.Writer, body io.Reader, offset int64, name string, progress func(written int64)) (int64, error) {
	written := offset
	buf := make([]byte, 1<<20)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return written, err
			}
			written += int64(n)
			progress(written)
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, fmt.Errorf("download %s at byte %d: %w", name, written, rerr)
		}
	}
}
