package privateserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/testsupport/s3test"
)

// S3 is a private versitygw (the stack's S3 server) with its posix backend in Data: a bucket is
// a directory there and an object a file under it, so a test can look at what is stored while
// the server is down. It takes the stack's access key and secret, so a worker pointed at it
// needs only OPSFLOW_S3_ENDPOINT changed.
type S3 struct {
	*Server
	// Endpoint is http://127.0.0.1:<port>.
	Endpoint string
	// Data is the posix backend's root: <Data>/<bucket>/<key>.
	Data string
	cfg  config.S3
}

// StartS3 starts a private versitygw and waits until it answers HTTP.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := toolBinary(t, "versitygw")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := s3test.Config()
	port := freePort(t)
	cfg.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &S3{Endpoint: cfg.Endpoint, Data: data, cfg: cfg}
	env := append(baseEnv("ROOT_ACCESS_KEY=", "ROOT_SECRET_KEY=", "VGW_"),
		"ROOT_ACCESS_KEY="+cfg.AccessKey, "ROOT_SECRET_KEY="+cfg.SecretKey)
	argv := []string{bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", cfg.Region, "posix", data}
	s.Server = newServer(t, "versitygw", dir, argv, env, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}, time.Minute, 20*time.Second)
	s.Start()
	return s
}

// Config is the stack's S3 settings with this server's endpoint.
func (s *S3) Config() config.S3 { return s.cfg }

// Client is an S3 client of this server (path style, the stack's keys).
func (s *S3) Client(t testing.TB) *s3.Client {
	t.Helper()
	c, err := s3store.New(context.Background(), s.cfg)
	if err != nil {
		t.Fatalf("private S3 client: %v", err)
	}
	return c
}

// ObjectPath is where the posix backend keeps an object: a test can see whether it exists
// while the server is stopped.
func (s *S3) ObjectPath(bucket, key string) string {
	return filepath.Join(s.Data, bucket, filepath.FromSlash(key))
}
