// Package s3store builds S3 clients from opsflow's config and holds the few object
// operations the runbooks share (upload with metadata, HEAD, resumable download). It knows
// no procedure: what an object's metadata means is its caller's.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/opsflow/opsflow/internal/config"
)

// New returns a client for the configured endpoint; static keys when given, else the AWS chain.
func New(ctx context.Context, cfg config.S3) (*s3.Client, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(cfg.Region), awsconfig.WithHTTPClient(httpClient())}
	if cfg.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load config: %w", err)
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Non-AWS servers differ in their support of the newer default checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// MaxIdleConnsPerHost is how many idle connections to the S3 endpoint the client keeps. The
// SDK's default (10) is below the GETs a worker has in flight (activities fetching many small
// objects at once, several at a time): connections were closed and opened again for each
// request past it, leaving thousands of sockets in TIME_WAIT and costing a handshake each.
const MaxIdleConnsPerHost = 256

func httpClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = MaxIdleConnsPerHost
		t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	})
}

// EnsureBucket creates the bucket when it is missing, so a fresh stack needs no manual step.
func EnsureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	if !IsNotFound(err) {
		return fmt.Errorf("s3: head bucket %s: %w", bucket, err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("s3: create bucket %s: %w", bucket, err)
	}
	return nil
}

// ObjectInfo is what a HEAD tells about an object.
type ObjectInfo struct {
	Size     int64
	Metadata map[string]string
}

// Head returns the object's size and metadata; found=false when it does not exist.
func Head(ctx context.Context, c *s3.Client, bucket, key string) (info ObjectInfo, found bool, err error) {
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if IsNotFound(err) {
			return ObjectInfo{}, false, nil
		}
		return ObjectInfo{}, false, fmt.Errorf("s3: head s3://%s/%s: %w", bucket, key, err)
	}
	md := map[string]string{}
	for k, v := range out.Metadata {
		md[strings.ToLower(k)] = v
	}
	return ObjectInfo{Size: aws.ToInt64(out.ContentLength), Metadata: md}, true, nil
}

// PutFile uploads a local file with metadata.
func PutFile(ctx context.Context, c *s3.Client, bucket, key, path string, metadata map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          f,
		ContentLength: aws.Int64(st.Size()),
		Metadata:      metadata,
	})
	if err != nil {
		return fmt.Errorf("s3: put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// GetRange streams the object from byte offset on, so an interrupted download resumes.
func GetRange(ctx context.Context, c *s3.Client, bucket, key string, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("s3: get s3://%s/%s: %w", bucket, key, err)
	}
	return out.Body, nil
}

// IsNotFound reports a missing bucket or key, which callers treat as an answer, not a fault.
func IsNotFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	var nsb *types.NoSuchBucket
	if errors.As(err, &nf) || errors.As(err, &nsk) || errors.As(err, &nsb) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NotFound", "NoSuchKey", "NoSuchBucket", "404":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	return false
}
