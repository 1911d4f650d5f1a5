// Command demo plays Bridge for `make demo`: it uploads a few realistic archives (and one with
// a zip-slip entry) with their S3 metadata to the archive bucket, and sends the S3 event
// notification of each to the notification queue, as S3 does. Record ids are new on every run.
// It prints the record ids, one per line, the refused one last. With -download-tables it copies
// the Parquet tables to a folder for DuckDB instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/bridgedata"
	"github.com/opsflow/opsflow/internal/testsupport/duckdb"
)

func main() {
	n := flag.Int("archives", 3, "good archives to upload")
	tables := flag.String("download-tables", "", "instead: download the data bucket's parquet/ tables into this folder (for DuckDB)")
	flag.Parse()
	var err error
	if *tables != "" {
		err = download(*tables)
	} else {
		err = run(*n)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridge demo:", err)
		os.Exit(1)
	}
}

// stackConfig is the stack's settings from the environment (scripts/stack env).
func stackConfig() config.Config {
	cfg := config.Default()
	cfg.S3.Endpoint = config.Env("OPSFLOW_S3_ENDPOINT", cfg.S3.Endpoint)
	cfg.S3.AccessKey = config.Env("OPSFLOW_S3_ACCESS_KEY", cfg.S3.AccessKey)
	cfg.S3.SecretKey = config.Env("OPSFLOW_S3_SECRET_KEY", cfg.S3.SecretKey)
	return cfg
}

// download copies the Parquet tables to dir, since DuckDB here reads local files only.
func download(dir string) error {
	ctx := context.Background()
	cfg := stackConfig()
	s3c, err := s3store.New(ctx, cfg.S3)
	if err != nil {
		return err
	}
	return duckdb.Download(ctx, s3c, config.Env("OPSFLOW_BRIDGE_DATA_BUCKET", cfg.Bridge.DataBucket), bridge.ParquetPrefix, dir)
}

func run(n int) error {
	ctx := context.Background()
	cfg := stackConfig()
	archives := config.Env("OPSFLOW_BRIDGE_ARCHIVE_BUCKET", cfg.Bridge.ArchiveBucket)
	s3c, err := s3store.New(ctx, cfg.S3)
	if err != nil {
		return err
	}
	if err := s3store.EnsureBucket(ctx, s3c, archives); err != nil {
		return err
	}
	sqsc, err := sqsclient.New(ctx, config.Env("OPSFLOW_SQS_ENDPOINT", ""), config.Env("OPSFLOW_SQS_REGION", "us-east-1"))
	if err != nil {
		return err
	}
	queue, err := sqsc.EnsureQueue(ctx, config.Env("OPSFLOW_BRIDGE_NOTIFICATION_QUEUE", cfg.Bridge.NotificationQueue))
	if err != nil {
		return err
	}
	stamp := time.Now().Unix()
	var all []bridgedata.Archive
	for i := 0; i < n; i++ {
		all = append(all, bridgedata.Good(bridgedata.Spec{RecordID: fmt.Sprintf("demo%d-%s", stamp, bridgedata.RecordID(i)[:12])}))
	}
	all = append(all, bridgedata.ZipSlip(bridgedata.Spec{RecordID: fmt.Sprintf("demo%d-zipslip", stamp)}))
	for _, a := range all {
		if err := bridgedata.Upload(ctx, s3c, archives, a.Key(), a); err != nil {
			return err
		}
		event := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`,
			archives, url.QueryEscape(a.Key()))
		if err := sqsc.Send(ctx, queue, event); err != nil {
			return err
		}
		fmt.Println(a.Spec.RecordID)
	}
	return nil
}
