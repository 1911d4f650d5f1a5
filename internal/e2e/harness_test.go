//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/internal/testsupport/releaserepo"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// stack is what scripts/stack exports (make test-e2e evals `scripts/stack env`).
type stack struct {
	temporalBin, address, namespace, uiURL string
}

func requireStack(t *testing.T) stack {
	t.Helper()
	s := stack{
		temporalBin: os.Getenv("OPSFLOW_TEMPORAL_BIN"),
		address:     config.Env("OPSFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		namespace:   config.Env("OPSFLOW_TEMPORAL_NAMESPACE", "default"),
		uiURL:       config.Env("OPSFLOW_UI_URL", "http://127.0.0.1:8233"),
	}
	if s.temporalBin == "" {
		t.Fatal("OPSFLOW_TEMPORAL_BIN is not set: run through `make test-e2e`, which starts the stack (scripts/stack up) and exports its settings")
	}
	out, err := exec.Command(s.temporalBin, "operator", "cluster", "health", "--address", s.address).CombinedOutput()
	require.NoError(t, err, "Temporal dev server at %s is not healthy (scripts/stack up): %s", s.address, out)
	require.Contains(t, string(out), "SERVING")
	return s
}

// deployment is one isolated opsflow deployment: its own task queue, bucket, release
// repository, site directories and supervisord, so tests never touch the demo's.
type deployment struct {
	t            *testing.T
	stack        stack
	dir          string
	bin          string
	repo         *releaserepo.Repo
	sup          *supervisordtest.Instance
	taskQueue    string
	bucket       string
	importBucket string
	environment  string
	metricsAddr  string
	env          []string
	client       client.Client
}

var services = map[string][]string{
	"nsc": {"lims-exporter-api", "nsc-exporter"},
	"tsd": {"filelock-exporter-api"},
}

func newDeployment(t *testing.T) *deployment {
	s := requireStack(t)
	dir := t.TempDir()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	d := &deployment{t: t, stack: s, dir: dir, taskQueue: "opsflow-e2e-" + suffix}
	d.bin = buildBinaries(t, filepath.Join(dir, "bin"))
	d.repo = releaserepo.New(t, filepath.Join(dir, "repos"))

	var programs []supervisordtest.Program
	var sites []release.Site
	for _, site := range []string{"nsc", "tsd"} {
		siteDir := filepath.Join(dir, "sites", site)
		require.NoError(t, os.MkdirAll(siteDir, 0o755))
		cs := release.Site{Name: site, Dir: siteDir}
		for _, svc := range services[site] {
			programs = append(programs, supervisordtest.Program{
				Name: svc, Command: "/bin/sh " + filepath.Join(siteDir, "sw", "tsd-import", "bin", svc),
				Directory: siteDir, StartSecs: 2,
			})
		}
		sites = append(sites, cs)
	}
	d.sup = supervisordtest.Start(t, programs...)
	for i := range sites {
		for _, svc := range services[sites[i].Name] {
			sites[i].Services = append(sites[i].Services, release.Service{
				Name: svc, SupervisorURL: d.sup.URL, SupervisorUser: d.sup.Username, SupervisorPassword: d.sup.Password})
		}
		if sites[i].Name == "nsc" {
			sites[i].Components = []string{"lims-exporter/", "nsc-exporter/", "bin/lims-exporter-api", "bin/nsc-exporter"}
		} else {
			sites[i].Components = []string{"filelock-exporter/", "bin/filelock-exporter-api"}
		}
	}
	sitesFile := filepath.Join(dir, "sites.json")
	data, err := json.MarshalIndent(sites, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sitesFile, data, 0o600))

	d.environment = "e2e-" + suffix
	d.bucket = "opsflow-e2e-" + suffix
	d.importBucket = "import-" + suffix
	d.metricsAddr = freeAddr(t)
	d.env = append(releaserepo.Env(dir),
		"OPSFLOW_ENVIRONMENT="+d.environment,
		"OPSFLOW_METRICS_ADDR="+d.metricsAddr,
		"OPSFLOW_TEMPORAL_ADDRESS="+s.address,
		"OPSFLOW_TEMPORAL_NAMESPACE="+s.namespace,
		"OPSFLOW_TASK_QUEUE="+d.taskQueue,
		"OPSFLOW_SITES_FILE="+sitesFile,
		"OPSFLOW_RELEASE_REPO="+d.repo.Clone,
		"OPSFLOW_ARTIFACT_BUCKET="+d.bucket,
		"OPSFLOW_IMPORT_BUCKET=import-"+suffix,
		"OPSFLOW_DURABLE_DIR="+filepath.Join(dir, "durable"),
		"OPSFLOW_STABLE_FOR=2s",
	)
	// The test reads results like any opsflow client: through the payload codec.
	cfg := config.DefaultClient()
	cfg.Temporal.Address, cfg.Temporal.Namespace = s.address, s.namespace
	cfg.Codec.KeysFile = os.Getenv("OPSFLOW_CODEC_KEYS_FILE")
	opts, err := temporalx.ClientOptions(cfg, temporalx.NewLogger("warn"))
	require.NoError(t, err, "OPSFLOW_CODEC_KEYS_FILE comes from scripts/stack env")
	d.client, err = client.Dial(opts)
	require.NoError(t, err)
	t.Cleanup(d.client.Close)
	return d
}

// startWorker runs the worker binary until the test ends; its logs go to a file that is
// printed when the test fails.
func (d *deployment) startWorker() { d.startWorkerNamed("worker") }

// startWorkerNamed starts one more worker process (log <name>.log) and returns it, for
// tests that kill a worker.
func (d *deployment) startWorkerNamed(name string, extraEnv ...string) *exec.Cmd {
	t := d.t
	logPath := filepath.Join(d.dir, name+".log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(filepath.Join(d.bin, "opsflow-worker"))
	cmd.Env = append(append([]string{}, d.env...), extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(45 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(log), 60))
		}
	})
	return cmd
}

// temporalCLI runs the Temporal CLI against the stack's server.
func (d *deployment) temporalCLI(args ...string) string {
	d.t.Helper()
	args = append(args, "--address", d.stack.address, "--namespace", d.stack.namespace)
	out, err := exec.Command(d.stack.temporalBin, args...).CombinedOutput()
	require.NoError(d.t, err, "temporal %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// starter runs the opsflow starter binary and returns its output and exit error.
func (d *deployment) starter(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(d.bin, "opsflow"), args...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *deployment) siteDir(site string) string { return filepath.Join(d.dir, "sites", site) }

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func buildBinaries(t *testing.T, out string) string {
	t.Helper()
	root := repoRoot(t)
	for pkg, name := range map[string]string{"./worker": "opsflow-worker", "./starter": "opsflow"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(out, name), pkg)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build %s: %s", pkg, b)
	}
	return out
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func execOut(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func headBucket(name string) *s3.HeadBucketInput { return &s3.HeadBucketInput{Bucket: &name} }
