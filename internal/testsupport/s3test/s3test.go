// Package s3test gives tests a fresh bucket on the stack's real S3 server (versitygw from
// scripts/stack), never a fake.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
)

// Config is the stack's S3 settings, from the environment scripts/stack exports.
func Config() config.S3 {
	c := config.Default().S3
	set := func(p *string, k string) {
		if v := os.Getenv(k); v != "" {
			*p = v
		}
	}
	set(&c.Endpoint, "OPSFLOW_S3_ENDPOINT")
	set(&c.Region, "OPSFLOW_S3_REGION")
	set(&c.AccessKey, "OPSFLOW_S3_ACCESS_KEY")
	set(&c.SecretKey, "OPSFLOW_S3_SECRET_KEY")
	return c
}

// NewBucket creates a uniquely named bucket and returns a client for it. The test fails
// with a pointer to scripts/stack when the server does not answer.
func NewBucket(t testing.TB) (*s3.Client, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := Config()
	c, err := s3store.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bucket := fmt.Sprintf("test-%d", time.Now().UnixNano())
	if err := s3store.EnsureBucket(ctx, c, bucket); err != nil {
		t.Fatalf("S3 server at %s: %v (start it with scripts/stack up)", cfg.Endpoint, err)
	}
	return c, bucket
}

// Put stores body under key, for tests that plant objects.
func Put(t testing.TB, c *s3.Client, bucket, key string, body []byte, metadata map[string]string) {
	t.Helper()
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body), Metadata: metadata,
	})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}
