package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/internal/watchers"
)

// harness is what every scenario shares: the options, the binaries built once, the stack's
// configuration and one Temporal client (through the payload codec, like the starter).
type harness struct {
	o     options
	root  string
	tmp   string // binaries
	cfg   config.Config
	c     client.Client
	s3    *s3.Client
	stamp time.Time
	// temporal is the benchmark's own Temporal server (-temporal private), nil on the stack's.
	temporal *privateTemporal
}

func newHarness(ctx context.Context, o options) (h *harness, err error) {
	h = &harness{o: o, stamp: time.Now().UTC()}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.root, err = moduleRoot(); err != nil {
		return nil, err
	}
	if o.temporal == "private" {
		say("starting a private Temporal dev server")
		if h.temporal, err = startPrivateTemporal(ctx, h.root, o.dir); err != nil {
			return nil, err
		}
		// Every process started from here on (worker, starter, bench/reval) uses it.
		os.Setenv("OPSFLOW_TEMPORAL_ADDRESS", h.temporal.addr)
		os.Setenv("OPSFLOW_TEMPORAL_NAMESPACE", "default")
		say("private Temporal dev server at %s (pid %s)", h.temporal.addr, h.temporal.p.pid())
	}
	h.cfg = config.Default()
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	h.cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		return nil, err
	}
	if err := h.cfg.Finish(); err != nil {
		return nil, fmt.Errorf("%w\n(run `make stack-up` and use `make bench-load`, which sets the stack's OPSFLOW_* variables)", err)
	}
	if os.Getenv("OPSFLOW_STACK_DIR") == "" {
		return nil, fmt.Errorf("OPSFLOW_STACK_DIR is not set: run it with make bench-load, or scripts/stack up and eval \"$(scripts/stack env)\" first")
	}
	slog.SetDefault(temporalx.NewLogger("warn"))
	if h.c, err = temporalx.Dial(h.cfg.Client, temporalx.NewLogger("warn")); err != nil {
		return nil, err
	}
	if h.s3, err = s3store.New(ctx, h.cfg.S3); err != nil {
		return nil, err
	}
	if h.tmp, err = os.MkdirTemp("", "opsflow-bench-load-"); err != nil {
		return nil, err
	}
	say("building ./worker and ./starter")
	for pkg, name := range map[string]string{"./worker": "opsflow-worker", "./starter": "opsflow"} {
		cmd := exec.CommandContext(ctx, goTool(), "build", "-o", filepath.Join(h.tmp, name), pkg)
		cmd.Dir = h.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	return h, nil
}

func (h *harness) close() {
	if h.c != nil {
		h.c.Close()
	}
	if h.temporal != nil {
		h.temporal.stop()
	}
	if h.tmp != "" {
		_ = os.RemoveAll(h.tmp)
	}
}

// serverPIDs are the pids of the servers whose CPU the report shows, found by the port each
// listens on ("" when not found on this machine).
func (h *harness) serverPIDs() map[string]string {
	return map[string]string{"temporal": listeningPID(h.cfg.Temporal.Address), "versitygw": listeningPID(h.cfg.S3.Endpoint),
		"sqs": listeningPID(h.cfg.Reval.SQSEndpoint)}
}

// deployment is one scenario's isolated opsflow: its own environment, task queue, import
// bucket, durable area and schedules, and its own worker process (so its peak RSS is the
// scenario's). Its clean-ups run in reverse order on every exit path.
type deployment struct {
	h            *harness
	scenario     string
	env          string
	taskQueue    string
	dir          string
	durable      string
	importBucket string
	vars         []string
	watchers     []string
	worker       *proc
	cpu0         map[string]float64
	pids         map[string]string // the servers' pids (serverPIDs)
	cleanups     []func()
}

// newDeployment prepares a scenario's deployment; the schedules of the watchers named are
// applied (never firing on their own: the scenario triggers them) with batch as their batchSize.
func (h *harness) newDeployment(ctx context.Context, scenario string, batch int, names []string, vars ...string) (*deployment, error) {
	suffix := fmt.Sprintf("%d", time.Now().Unix())
	d := &deployment{h: h, scenario: scenario, env: "load-" + scenario + "-" + suffix, watchers: names}
	d.taskQueue = "opsflow-" + d.env
	d.importBucket = d.env
	var err error
	if d.dir, err = os.MkdirTemp(h.o.dir, "bench-load-"+scenario+"-"); err != nil {
		return nil, err
	}
	d.onClose(func() {
		if h.o.keep {
			say("kept %s", d.dir)
			return
		}
		_ = os.RemoveAll(d.dir)
	})
	d.durable = filepath.Join(d.dir, "durable")
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	schedules := filepath.Join(d.dir, "schedules.json")
	// Every watcher is listed: one left out would get its default schedule (every few minutes)
	// and scan in this environment on its own. ella-health, with no recipients, is skipped.
	var entries []watchers.Schedule
	for _, w := range watchers.All {
		s := watchers.Schedule{Watcher: w.Name, Cron: "0 0 1 1 *", Note: "bench/load: triggered by the benchmark"}
		if slices.Contains(names, w.Name) {
			s.BatchSize = batch
		}
		entries = append(entries, s)
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(schedules, data, 0o600); err != nil {
		return nil, err
	}
	d.vars = append(os.Environ(),
		"OPSFLOW_ENVIRONMENT="+d.env,
		"OPSFLOW_TASK_QUEUE="+d.taskQueue,
		"OPSFLOW_METRICS_ADDR="+metrics,
		"OPSFLOW_WORKER_SITES=none", // the central worker only: no scenario deploys a release
		"OPSFLOW_IMPORT_BUCKET="+d.importBucket,
		"OPSFLOW_DURABLE_DIR="+d.durable,
		"OPSFLOW_SCHEDULES_FILE="+schedules,
	)
	d.vars = append(d.vars, vars...)
	if err := s3store.EnsureBucket(ctx, h.s3, d.importBucket); err != nil {
		return nil, fmt.Errorf("S3 server at %s: %w (scripts/stack up)", h.cfg.S3.Endpoint, err)
	}
	d.onClose(func() { d.dropBucket(d.importBucket) })
	return d, nil
}

func (d *deployment) onClose(f func()) { d.cleanups = append(d.cleanups, f) }

func (d *deployment) close() {
	if d.worker != nil {
		d.worker.stop(45 * time.Second)
	}
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
}

// dropBucket empties and deletes a bucket the scenario made (unless -keep).
func (d *deployment) dropBucket(bucket string) {
	if d.h.o.keep {
		say("kept bucket %s", bucket)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := dropBucket(ctx, d.h.s3, bucket); err != nil {
		say("could not delete bucket %s: %v", bucket, err)
	}
}

// startWorker starts the worker binary and waits until it polls; the CPU of the worker and of
// the stack's servers is counted from here.
func (d *deployment) startWorker(ctx context.Context) error {
	w, err := startProc("worker", filepath.Join(d.dir, "worker.log"), d.vars, filepath.Join(d.h.tmp, "opsflow-worker"))
	if err != nil {
		return err
	}
	d.worker = w
	if err := w.waitForLog(ctx, "worker started", 2*time.Minute); err != nil {
		return err
	}
	if len(d.watchers) > 0 {
		if _, err := d.starter(ctx, "schedules", "apply"); err != nil {
			return err
		}
		d.onClose(func() {
			for _, w := range watchers.All {
				_ = d.h.c.ScheduleClient().GetHandle(context.Background(), watchers.ScheduleID(w.Name, d.env)).Delete(context.Background())
			}
		})
	}
	d.cpu0 = d.cpu()
	return nil
}

// servers are the processes whose CPU a scenario reports, besides the worker.
var servers = []string{"temporal", "versitygw", "sqs"}

// cpu is the CPU seconds of the worker and the servers so far; the servers' pids are found once,
// at the scenario's start, so a server restarted meanwhile is not counted from another process.
func (d *deployment) cpu() map[string]float64 {
	if d.pids == nil {
		d.pids = d.h.serverPIDs()
	}
	out := map[string]float64{"worker": procCPU(d.worker.pid())}
	for _, s := range servers {
		out[s] = procCPU(d.pids[s])
	}
	return out
}

// usage is what the worker and the servers cost during a scenario.
type usage struct {
	workerPeakKiB int64
	cpu           map[string]float64
}

// finish reads the worker's peak RSS and the CPU used since startWorker, before the worker stops.
func (d *deployment) finish() (usage, error) {
	u := usage{cpu: map[string]float64{}}
	for k, v := range d.cpu() {
		u.cpu[k] = v - d.cpu0[k]
	}
	var err error
	if u.workerPeakKiB, err = procStatusKiB(d.worker.pid(), "VmHWM"); err != nil {
		return u, fmt.Errorf("worker peak RSS: %w", err)
	}
	return u, nil
}

// starter runs the opsflow starter binary with the deployment's settings.
func (d *deployment) starter(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(d.h.tmp, "opsflow"), args...)
	cmd.Env = d.vars
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("opsflow %s: %w\n%s\nworker log tail:\n%s", strings.Join(args, " "), err, out, d.worker.logTail(20))
	}
	return string(out), nil
}

var scanLine = regexp.MustCompile(`(?m)^scan (\S+)\s`)

// trigger runs a watcher through its schedule now and waits for it (`opsflow schedules trigger
// <watcher> --wait`), returning the run's workflow id, the starter's output and the seconds the
// command took.
func (d *deployment) trigger(ctx context.Context, watcher string) (string, string, float64, error) {
	began := time.Now()
	out, err := d.starter(ctx, "schedules", "trigger", watcher, "--wait", "--timeout", d.h.o.timeout.String())
	secs := time.Since(began).Seconds()
	if err != nil {
		return "", out, secs, err
	}
	m := scanLine.FindStringSubmatch(out)
	if m == nil {
		return "", out, secs, fmt.Errorf("opsflow schedules trigger %s: no \"scan <id>\" line in its output:\n%s", watcher, out)
	}
	return m[1], out, secs, nil
}
