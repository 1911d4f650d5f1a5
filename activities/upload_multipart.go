package activities

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/opsflow/opsflow/internal/s3store"
)

// partSizeFor is the part size of a file of size bytes: PartSize, or larger when the file
// would need more than S3's 10 000 parts (whole MiBs, so every attempt cuts the file alike).
func (a *UploadActivities) partSizeFor(size int64) int64 {
	ps := a.partSize()
	if size > ps*maxParts {
		ps = ((size+maxParts-1)/maxParts + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return ps
}

// uploadLarge sends f through a multipart upload, resuming the one an earlier attempt
// started: the heartbeat's upload id when it is f's, else the latest pending upload of f's
// key. Parts already uploaded are kept when their size and MD5 (the plain ETag) match the
// local file; otherwise that upload is aborted and a new one started. Only the missing
// parts are sent, Concurrency at a time. Once complete, the object's x-amz-meta-sha256 must
// be sum: a resumed upload created for an earlier version of the file is replaced by a
// fresh one.
func (a *UploadActivities) uploadLarge(ctx context.Context, f localFile, sum string, resume uploadProgress, p *progress) error {
	ps := a.partSizeFor(f.size)
	count := int32((f.size + ps - 1) / ps)
	for try := 0; try < 2; try++ {
		id, parts, err := a.pendingUpload(ctx, f.key, resume)
		if err != nil {
			return err
		}
		if id != "" {
			ok, err := verifyParts(ctx, f, ps, count, parts, p)
			if err != nil {
				return err
			}
			if !ok {
				a.abort(ctx, f.key, id)
				id, parts = "", nil
			}
		}
		if id == "" {
			out, err := a.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
				Bucket: aws.String(a.Bucket), Key: aws.String(f.key), Metadata: map[string]string{sha256Meta: sum},
			})
			if err != nil {
				return fmt.Errorf("create multipart upload s3://%s/%s: %w", a.Bucket, f.key, err)
			}
			id = aws.ToString(out.UploadId)
		}
		p.at(f.key, id)
		var kept int64
		for _, part := range parts {
			kept += aws.ToInt64(part.Size)
		}
		p.add(kept, false)
		completed, err := a.sendParts(ctx, f, id, ps, count, parts, p)
		if err != nil {
			return err
		}
		_, err = a.S3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(a.Bucket), Key: aws.String(f.key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		})
		if err != nil {
			return fmt.Errorf("complete multipart upload s3://%s/%s: %w", a.Bucket, f.key, err)
		}
		info, found, err := s3store.Head(ctx, a.S3, a.Bucket, f.key)
		if err != nil {
			return err
		}
		if found && info.Size == f.size && info.Metadata[sha256Meta] == sum {
			a.abortOthers(ctx, f.key)
			return nil
		}
		// The resumed upload was created for an earlier version of the file (its metadata
		// names another SHA-256): send the file again through a new upload.
		p.undo(f.size)
		resume = uploadProgress{}
		a.abortOthers(ctx, f.key)
	}
	return fmt.Errorf("s3://%s/%s: uploaded object does not carry the local file's size and SHA-256 %s", a.Bucket, f.key, sum)
}

// pendingUpload finds the multipart upload to resume for key and its parts: the heartbeat's
// when it names key and still exists, else the most recently initiated pending upload of
// key; "" when there is none.
func (a *UploadActivities) pendingUpload(ctx context.Context, key string, resume uploadProgress) (string, map[int32]types.Part, error) {
	if resume.Key == key && resume.UploadID != "" {
		parts, err := a.listParts(ctx, key, resume.UploadID)
		if err == nil {
			return resume.UploadID, parts, nil
		}
		if !isNoSuchUpload(err) {
			return "", nil, err
		}
	}
	uploads, err := a.pendingUploads(ctx, key)
	if err != nil || len(uploads) == 0 {
		return "", nil, err
	}
	latest := uploads[0]
	for _, u := range uploads[1:] {
		if aws.ToTime(u.Initiated).After(aws.ToTime(latest.Initiated)) {
			latest = u
		}
	}
	id := aws.ToString(latest.UploadId)
	parts, err := a.listParts(ctx, key, id)
	if isNoSuchUpload(err) {
		return "", nil, nil // completed or aborted meanwhile
	}
	return id, parts, err
}

// pendingUploads lists the multipart uploads in progress for exactly key.
func (a *UploadActivities) pendingUploads(ctx context.Context, key string) ([]types.MultipartUpload, error) {
	pg := s3.NewListMultipartUploadsPaginator(a.S3, &s3.ListMultipartUploadsInput{Bucket: aws.String(a.Bucket), Prefix: aws.String(key)})
	var uploads []types.MultipartUpload
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list multipart uploads of s3://%s/%s: %w", a.Bucket, key, err)
		}
		for _, u := range page.Uploads {
			if aws.ToString(u.Key) == key {
				uploads = append(uploads, u)
			}
		}
	}
	return uploads, nil
}

// listParts returns the parts of upload id by number.
func (a *UploadActivities) listParts(ctx context.Context, key, id string) (map[int32]types.Part, error) {
	pg := s3.NewListPartsPaginator(a.S3, &s3.ListPartsInput{Bucket: aws.String(a.Bucket), Key: aws.String(key), UploadId: aws.String(id)})
	parts := map[int32]types.Part{}
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list parts of s3://%s/%s upload %s: %w", a.Bucket, key, id, err)
		}
		for _, p := range page.Parts {
			parts[aws.ToInt32(p.PartNumber)] = p
		}
	}
	return parts, nil
}

// verifyParts tells whether every part already uploaded is the local file's: its number
// within the file's, its size the one this part size gives, and, when the server's ETag is
// a plain MD5, the MD5 of the local bytes.
func verifyParts(ctx context.Context, f localFile, ps int64, count int32, parts map[int32]types.Part, p *progress) (bool, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	buf := make([]byte, ps)
	for n, part := range parts {
		if n < 1 || n > count || aws.ToInt64(part.Size) != partLen(f.size, ps, n) {
			return false, nil
		}
		etag := strings.Trim(aws.ToString(part.ETag), `"`)
		if _, err := hex.DecodeString(etag); err != nil || len(etag) != 2*md5.Size {
			continue // not a plain MD5 (an encrypted or composite ETag): the size has to do
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		b := buf[:partLen(f.size, ps, n)]
		if _, err := fh.ReadAt(b, int64(n-1)*ps); err != nil {
			return false, sourceChanged(f)
		}
		sum := md5.Sum(b)
		if hex.EncodeToString(sum[:]) != strings.ToLower(etag) {
			return false, nil
		}
		p.beat()
	}
	return true, nil
}

// partLen is the size of part n (from 1) of a file of size bytes cut in parts of ps.
func partLen(size, ps int64, n int32) int64 {
	return min(ps, size-int64(n-1)*ps)
}

// sendParts uploads the parts of f missing from have, Concurrency at a time, and returns
// every part of the upload (those kept and those sent) in order.
func (a *UploadActivities) sendParts(ctx context.Context, f localFile, id string, ps int64, count int32, have map[int32]types.Part, p *progress) ([]types.CompletedPart, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	completed := make([]types.CompletedPart, count)
	todo := make(chan int32)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for w := 0; w < min(a.concurrency(), int(count)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, ps)
			for n := range todo {
				etag, err := a.sendPart(ctx, fh, f, id, ps, n, buf, p)
				if err != nil {
					fail(err)
					continue
				}
				completed[n-1] = types.CompletedPart{PartNumber: aws.Int32(n), ETag: etag}
				p.add(partLen(f.size, ps, n), true)
			}
		}()
	}
	for n := int32(1); n <= count && ctx.Err() == nil; n++ {
		if part, ok := have[n]; ok {
			completed[n-1] = types.CompletedPart{PartNumber: aws.Int32(n), ETag: part.ETag}
			continue
		}
		select {
		case todo <- n:
		case <-ctx.Done():
		}
	}
	close(todo)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return completed, nil
}

// sendPart reads part n of f into buf and uploads it; a short read means f changed.
func (a *UploadActivities) sendPart(ctx context.Context, fh *os.File, f localFile, id string, ps int64, n int32, buf []byte, p *progress) (*string, error) {
	b := buf[:partLen(f.size, ps, n)]
	if _, err := fh.ReadAt(b, int64(n-1)*ps); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, sourceChanged(f)
		}
		return nil, fmt.Errorf("read %s: %w", f.path, err)
	}
	out, err := a.S3.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(a.Bucket), Key: aws.String(f.key), UploadId: aws.String(id),
		PartNumber: aws.Int32(n), Body: &beatingReader{r: bytes.NewReader(b), p: p}, ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return nil, fmt.Errorf("upload part %d of s3://%s/%s: %w", n, a.Bucket, f.key, err)
	}
	return out.ETag, nil
}

// abort drops a multipart upload whose parts are not the local file's. A failure only
// leaves it pending: the next complete upload of the key aborts it (abortOthers).
func (a *UploadActivities) abort(ctx context.Context, key, id string) {
	_, _ = a.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(a.Bucket), Key: aws.String(key), UploadId: aws.String(id)})
}

// abortOthers drops the uploads of key still pending once its object is complete (those
// of attempts that started again instead of resuming), so their parts do not linger.
func (a *UploadActivities) abortOthers(ctx context.Context, key string) {
	uploads, err := a.pendingUploads(ctx, key)
	if err != nil {
		return
	}
	for _, u := range uploads {
		a.abort(ctx, key, aws.ToString(u.UploadId))
	}
}

// isNoSuchUpload reports a multipart upload that is no more (completed or aborted).
func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsu) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload"
}
