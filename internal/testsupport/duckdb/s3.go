package duckdb

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ReadS3 downloads every object under prefix (e.g. "parquet/") to a temporary folder and
// reads its table folders with DuckDB, running queries on them: DuckDB's own S3 reader is an
// extension fetched from the internet at run time, which the machine cannot reach.
func ReadS3(t testing.TB, c *s3.Client, bucket, prefix string, queries ...string) *Result {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Download(ctx, c, bucket, prefix, dir); err != nil {
		t.Fatal(err)
	}
	return Read(t, dir, queries...)
}

// Download copies the objects under prefix into dir, each at its key less the prefix; keys
// that would leave dir are refused.
func Download(ctx context.Context, c *s3.Client, bucket, prefix, dir string) error {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue // a folder marker
			}
			local := filepath.Join(dir, filepath.FromSlash(rel))
			if !strings.HasPrefix(local, filepath.Clean(dir)+string(filepath.Separator)) {
				return fmt.Errorf("s3://%s/%s: key leaves the download folder", bucket, key)
			}
			if err := get(ctx, c, bucket, key, local); err != nil {
				return err
			}
		}
	}
	return nil
}

func get(ctx context.Context, c *s3.Client, bucket, key, local string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return err
	}
	f, err := os.Create(local)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	return f.Close()
}
