package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/temporalx"
)

// bench holds what both sides share: the client, the bucket, the generated package.
type bench struct {
	o         options
	s3        *s3.Client
	bucket    string
	exportDir string
	files     []string
	total     int64
}

func (b *bench) pkgDir() string {
	return filepath.Join(b.exportDir, string(samplepkg.KindSample), pkgName)
}

// timed runs one side on an empty bucket and returns its duration (the emptying is not timed).
func (b *bench) timed(ctx context.Context, side string) (time.Duration, error) {
	if err := emptyBucket(ctx, b.s3, b.bucket); err != nil {
		return 0, err
	}
	start := time.Now()
	var err error
	if side == "bare" {
		err = b.bare(ctx)
	} else {
		err = b.opsflow()
	}
	return time.Since(start), err
}

// opsflow uploads the package with UploadActivities.UploadPackage in the SDK's activity test
// environment, and checks it sent every byte.
func (b *bench) opsflow() error {
	h, err := ident.NewHasher([]byte("bench-identifier-key"), true)
	if err != nil {
		return err
	}
	a := &activities.UploadActivities{S3: b.s3, Bucket: b.bucket, ExportDir: b.exportDir, Hasher: h,
		PartSize: b.o.partSize, Concurrency: b.o.concurrency}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(temporalx.NewLogger("warn"))) // not a line per heartbeat
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.UploadPackage, activities.ExportPackage{Kind: samplepkg.KindSample, Name: pkgName})
	if err != nil {
		return err
	}
	var res activities.UploadResult
	if err := v.Get(&res); err != nil {
		return err
	}
	if res.Sent < b.total {
		return fmt.Errorf("UploadPackage sent %d bytes of %d", res.Sent, b.total)
	}
	return nil
}

// bare is the anchor: the .sample in one PutObject, then every data file through a plain
// multipart upload, parts read with ReadAt and sent concurrency at a time.
func (b *bench) bare(ctx context.Context) error {
	desc := samplepkg.KindSample.DescriptionFile(pkgName)
	data, err := os.ReadFile(filepath.Join(b.pkgDir(), desc))
	if err != nil {
		return err
	}
	_, err = b.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b.bucket), Key: aws.String("bare/" + desc),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		return err
	}
	for _, name := range b.files {
		if err := b.bareFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (b *bench) bareFile(ctx context.Context, name string) error {
	f, err := os.Open(filepath.Join(b.pkgDir(), name))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	key := aws.String("bare/" + name)
	up, err := b.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b.bucket), Key: key})
	if err != nil {
		return err
	}
	ps := b.o.partSize
	count := int((st.Size() + ps - 1) / ps)
	parts := make([]types.CompletedPart, count)
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < min(b.o.concurrency, count); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, ps)
			for i := range next {
				part := buf[:min(ps, st.Size()-int64(i)*ps)]
				_, err := f.ReadAt(part, int64(i)*ps)
				if err == nil {
					var out *s3.UploadPartOutput
					out, err = b.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b.bucket), Key: key, UploadId: up.UploadId,
						PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part)))})
					if err == nil {
						parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag}
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < count; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	_, err = b.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b.bucket), Key: key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// emptyBucket deletes every object and aborts every pending multipart upload of the bucket.
func emptyBucket(ctx context.Context, c *s3.Client, bucket string) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
				return fmt.Errorf("delete s3://%s/%s: %w", bucket, aws.ToString(o.Key), err)
			}
		}
	}
	up := s3.NewListMultipartUploadsPaginator(c, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list uploads of s3://%s: %w", bucket, err)
		}
		for _, u := range page.Uploads {
			_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	return nil
}

// dropBucket empties and deletes the benchmark's bucket.
func dropBucket(ctx context.Context, c *s3.Client, bucket string) error {
	if err := emptyBucket(ctx, c, bucket); err != nil {
		return err
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}
