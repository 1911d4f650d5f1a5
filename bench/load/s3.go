package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// object is one object to put: its key, body and S3 metadata.
type object struct {
	key      string
	body     []byte
	metadata map[string]string
}

// putAll stores the objects produced by next (nil when there are no more) with parallel PUTs
// in flight, and returns how many bytes it stored.
func putAll(ctx context.Context, c *s3.Client, bucket string, parallel int, next func() *object) (int64, error) {
	var (
		mu       sync.Mutex
		firstErr error
		total    atomic.Int64
		wg       sync.WaitGroup
	)
	take := func() *object {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil {
			return nil
		}
		return next()
	}
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := take(); o != nil; o = take() {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key),
					Body: bytes.NewReader(o.body), Metadata: o.metadata})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("put s3://%s/%s: %w", bucket, o.key, err)
					}
					mu.Unlock()
					return
				}
				total.Add(int64(len(o.body)))
			}
		}()
	}
	wg.Wait()
	return total.Load(), firstErr
}

// dropBucket deletes every object of the bucket (1000 per request), then the bucket.
func dropBucket(ctx context.Context, c *s3.Client, bucket string) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return err
		}
	}
	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}
