// Command upload is the nsc-exporter's upload benchmark (issue 10, `make bench-copy` runs it
// after bench/copy): it generates -gib GiB of files as one package in a scratch export area
// and, in the same run and against the same S3 server (the stack's versitygw, OPSFLOW_S3_*),
// uploads them
//
//	(a) with a bare aws-sdk-go-v2 multipart upload (bare.go, the anchor): per file
//	    CreateMultipartUpload, UploadPart of every part (-concurrency at a time, -part-size
//	    parts read with ReadAt), CompleteMultipartUpload;
//	(b) with opsflow's activities.UploadActivities.UploadPackage (same part size, same
//	    concurrency), run in the Temporal SDK's activity test environment (heartbeats are
//	    recorded, not sent to a server): SHA-256 of every file (x-amz-meta-sha256), HEAD of
//	    the key, the multipart upload and the manifest written last.
//
// Each side runs -rounds times (3; the median is reported), the order alternating (a b, b a, ...) so neither always
// meets a warmer server; the bucket is emptied between runs. The files are written once,
// before the first run, and stay in the page cache (the machine has to hold -gib in RAM for
// the figures to compare uploads rather than disk reads). It prints the MB/s of each side and
// the ratio, writes bench/results/upload-<UTC timestamp>.md, and deletes its bucket and
// scratch files. It is a program and not a timed test: its figures depend on the machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

type options struct {
	gib         float64
	files       int
	dir         string
	results     string
	partSize    int64
	concurrency int
	rounds      int
}

func main() {
	var o options
	flag.Float64Var(&o.gib, "gib", 1, "GiB of files to upload on each side")
	flag.IntVar(&o.files, "files", 4, "number of files the GiB are split into (plus the package's .sample)")
	flag.StringVar(&o.dir, "dir", defaultDir(), "scratch directory (the export area)")
	flag.StringVar(&o.results, "results", "bench/results", "directory of the Markdown report")
	partMiB := flag.Int64("part-size-mib", 16, "multipart part size in MiB, both sides (UploadActivities.PartSize)")
	flag.IntVar(&o.concurrency, "concurrency", 4, "parts in flight per file, both sides (UploadActivities.Concurrency)")
	flag.IntVar(&o.rounds, "rounds", 3, "runs of each side (order alternating); the report gives the median")
	flag.Parse()
	o.partSize = *partMiB << 20
	if o.gib <= 0 || o.files < 1 || o.partSize < 5<<20 || o.concurrency < 1 || o.rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench/upload: -gib must be positive, -files, -concurrency and -rounds at least 1, -part-size-mib at least 5")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/upload:", err)
		os.Exit(1)
	}
}

// defaultDir is under the stack's directory when there is one, else the temporary directory.
func defaultDir() string {
	if d := os.Getenv("OPSFLOW_STACK_DIR"); d != "" {
		return d
	}
	return os.TempDir()
}

func say(format string, args ...any) {
	fmt.Printf("bench/upload: %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// s3Config is the stack's S3 settings (scripts/stack env exports them).
func s3Config() (config.S3, error) {
	c := config.Default().S3
	for k, p := range map[string]*string{"OPSFLOW_S3_ENDPOINT": &c.Endpoint, "OPSFLOW_S3_REGION": &c.Region,
		"OPSFLOW_S3_ACCESS_KEY": &c.AccessKey, "OPSFLOW_S3_SECRET_KEY": &c.SecretKey} {
		if v := os.Getenv(k); v != "" {
			*p = v
		}
	}
	if c.Endpoint == "" {
		return c, fmt.Errorf("OPSFLOW_S3_ENDPOINT is not set: run it with make bench-copy, or eval \"$(scripts/stack env)\" first (scripts/stack up starts the S3 server)")
	}
	return c, nil
}

const pkgName = "BENCH-UPLOAD-1"

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := s3Config()
	if err != nil {
		return err
	}
	client, err := s3store.New(ctx, cfg)
	if err != nil {
		return err
	}
	bucket := fmt.Sprintf("bench-upload-%d", time.Now().UnixNano())
	if err := s3store.EnsureBucket(ctx, client, bucket); err != nil {
		return fmt.Errorf("S3 server at %s: %w (start it with scripts/stack up)", cfg.Endpoint, err)
	}
	defer func() {
		if err := dropBucket(context.Background(), client, bucket); err != nil {
			say("could not delete bucket %s: %v", bucket, err)
		}
	}()
	scratch, err := os.MkdirTemp(o.dir, "bench-upload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	say("writing %.2f GiB in %d files under %s", o.gib, o.files, scratch)
	files, total, err := generate(scratch, o)
	if err != nil {
		return err
	}
	b := &bench{o: o, s3: client, bucket: bucket, exportDir: scratch, files: files, total: total}
	var bare, ops []time.Duration
	for r := 0; r < o.rounds; r++ {
		sides := []string{"bare", "opsflow"}
		if r%2 == 1 {
			sides = []string{"opsflow", "bare"}
		}
		for _, side := range sides {
			d, err := b.timed(ctx, side)
			if err != nil {
				return fmt.Errorf("%s side, round %d: %w", side, r+1, err)
			}
			say("round %d %-7s %6.1f s  %7.1f MB/s", r+1, side, d.Seconds(), mbps(total, d))
			if side == "bare" {
				bare = append(bare, d)
			} else {
				ops = append(ops, d)
			}
		}
	}
	rep := report{o: o, total: total, bare: bare, ops: ops, endpoint: cfg.Endpoint, stamp: time.Now().UTC()}
	md := rep.markdown()
	fmt.Print("\n" + md)
	if err := os.MkdirAll(o.results, 0o755); err != nil {
		return err
	}
	out := filepath.Join(o.results, "upload-"+rep.stamp.Format("20060102-150405")+".md")
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	say("wrote %s", out)
	return nil
}

// generate writes the package <scratch>/samples/<pkgName>/: o.files files of incompressible
// bytes totalling o.gib GiB, and the .sample that makes it complete. It returns the data
// files' paths relative to the package and their total size.
func generate(scratch string, o options) ([]string, int64, error) {
	dir := filepath.Join(scratch, string(samplepkg.KindSample), pkgName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, samplepkg.KindSample.DescriptionFile(pkgName)), []byte(`{"name":"`+pkgName+`","reads":[]}`), 0o644); err != nil {
		return nil, 0, err
	}
	perFile := int64(o.gib*(1<<30)) / int64(o.files)
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 4<<20)
	var names []string
	var total int64
	for i := 0; i < o.files; i++ {
		name := fmt.Sprintf("R%02d.fastq.gz", i+1)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, 0, err
		}
		for left := perFile; left > 0; {
			n := min(left, int64(len(buf)))
			_, _ = rng.Read(buf[:n])
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return nil, 0, err
			}
			left -= n
		}
		if err := f.Close(); err != nil {
			return nil, 0, err
		}
		names = append(names, name)
		total += perFile
	}
	return names, total, nil
}

func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / (1 << 20) / d.Seconds()
}
