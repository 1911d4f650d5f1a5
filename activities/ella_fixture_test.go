package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// Stand-in releases of the ELLA fixture, under archive/releases.
const (
	ellaV1 = "ella-release-v1.0.0.sif"
	ellaV2 = "ella-release-v2.0.0.sif"
)

// ellaFixture is an ELLA host for one test: the production directory with images v1 and v2
// (ella.sif pointing at v1), a fresh database on the stack's PostgreSQL migrated to v1, the
// stand-in's four programs RUNNING v1 under a private supervisord, and MailDev for e-mail.
type ellaFixture struct {
	acts    *EllaActivities
	env     *testsuite.TestActivityEnvironment
	dir     string
	dbURL   string
	stub    string
	sums    map[string]string
	sup     *supervisordtest.Instance
	pageURL string
}

// ellaEnv is a variable of scripts/stack env; a test fails (never skips) without it.
func ellaEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf(`%s is not set: run scripts/stack up and eval "$(scripts/stack env)"`, name)
	}
	return v
}

func newEllaFixture(t *testing.T) *ellaFixture {
	t.Helper()
	f := &ellaFixture{dir: t.TempDir(), stub: ellastub.Build(t), sums: map[string]string{}}
	var dbName string
	f.dbURL, dbName = ellastub.NewDatabase(t)
	for _, d := range []string{ella.ReleasesDir, "ella-prod", "config"} {
		require.NoError(t, os.MkdirAll(filepath.Join(f.dir, d), 0o755))
	}
	for name, img := range map[string]ellastub.Image{ellaV1: ellastub.ImageV1, ellaV2: ellastub.ImageV2} {
		p := filepath.Join(f.dir, ella.ReleasesDir, name)
		require.NoError(t, ellastub.WriteImage(p, img))
		sum := sha256.Sum256(img.Content())
		f.sums[name] = hex.EncodeToString(sum[:])
	}
	link := filepath.Join(f.dir, ella.ProductionLink)
	require.NoError(t, os.Symlink(ella.LinkTarget(ellaV1), link))
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "config", "usergroups.json"),
		[]byte(`[{"name": "HTS", "config": {"acmg": true}}, {"name": "Sanger"}]`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "config", "filterconfigs.json"),
		[]byte(`[{"name": "Standard", "filters": ["frequency", "region"]}]`), 0o644))

	// The database at v1, as a running ELLA v1 has it.
	f.stubCLI(t, link, "database", "upgrade", "head")

	port := ellaFreePort(t)
	f.pageURL = fmt.Sprintf("http://127.0.0.1:%d/", port)
	var programs []supervisordtest.Program
	for _, mode := range ellastub.Modes {
		programs = append(programs, supervisordtest.Program{Name: mode, StartSecs: 1, Directory: f.dir,
			Command:     fmt.Sprintf("%s serve --mode %s --image %s --listen 127.0.0.1:%d", f.stub, mode, link, port),
			Environment: map[string]string{"DB_URL": f.dbURL}})
	}
	f.sup = supervisordtest.Start(t, programs...)
	client, err := supervisor.New(f.sup.URL, f.sup.Username, f.sup.Password, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	cli, err := ella.NewCLI([]string{f.stub, "cli", "--image", ella.ImageArg})
	require.NoError(t, err)
	pgPort, err := strconv.Atoi(ellaEnv(t, "OPSFLOW_PG_PORT"))
	require.NoError(t, err)
	f.acts = &EllaActivities{
		Dir: f.dir, CLI: cli, CLIEnv: []string{"DB_URL=" + f.dbURL},
		ConfigDir: filepath.Join(f.dir, "config"), AllowedConfigs: []string{"usergroups.json", "filterconfigs.json", "absent.json"},
		PG: EllaPG{Host: ellaEnv(t, "OPSFLOW_PG_HOST"), Port: pgPort, User: ellaEnv(t, "OPSFLOW_PG_USER"),
			Password: ellaEnv(t, "OPSFLOW_PG_PASSWORD"), Database: dbName},
		Supervisor: client, StableFor: time.Second, PageURL: f.pageURL, PageTimeout: 20 * time.Second,
		Mail: EllaMail{Addr: ellaEnv(t, "OPSFLOW_SMTP_ADDR"), From: "ELLA drift <ella-drift@ous.test>", Templates: DefaultEllaMailTemplates()},
	}
	for _, mode := range ellastub.Modes {
		require.NoError(t, client.Start(context.Background(), mode), "ELLA v1's %s", mode)
	}
	var ts testsuite.WorkflowTestSuite
	f.env = ts.NewTestActivityEnvironment()
	f.env.RegisterActivity(f.acts)
	return f
}

// stubCLI runs the stand-in's ella-cli from image as an operator would, outside the activities.
func (f *ellaFixture) stubCLI(t *testing.T, image string, args ...string) string {
	t.Helper()
	out, code, err := runArgv(context.Background(), f.dir, []string{"DB_URL=" + f.dbURL}, append([]string{f.stub, "cli", "--image", image}, args...))
	require.NoError(t, err)
	require.Zero(t, code, "ella-cli %v: %s", args, out)
	return out
}

// sql runs a query on the fixture's database.
func (f *ellaFixture) sql(t *testing.T, query string, vars map[string]string) string {
	t.Helper()
	out, err := ellastub.PSQL(context.Background(), f.dbURL, query, vars)
	require.NoError(t, err)
	return out
}

// link is where ella-prod/ella.sif points.
func (f *ellaFixture) link(t *testing.T) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(f.dir, ella.ProductionLink))
	require.NoError(t, err)
	return target
}

// states are the programs' supervisord states.
func (f *ellaFixture) states(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, mode := range ellastub.Modes {
		info, err := f.acts.Supervisor.ProcessInfo(context.Background(), mode)
		require.NoError(t, err)
		out[mode] = info.StateName
	}
	return out
}

// page is ELLA's web page's text.
func (f *ellaFixture) page(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(f.pageURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// hasMigratedColumn says whether v2's migration is in the database.
func (f *ellaFixture) hasMigratedColumn(t *testing.T) bool {
	t.Helper()
	return f.sql(t, `SELECT count(*) FROM information_schema.columns WHERE table_name = :'t' AND column_name = :'c';`,
		map[string]string{"t": ellastub.MigratedTable, "c": ellastub.MigratedColumn}) == "1"
}

func allRunning() map[string]string {
	m := map[string]string{}
	for _, mode := range ellastub.Modes {
		m[mode] = "RUNNING"
	}
	return m
}

func ellaFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// exec runs one activity and decodes its result into out (nil: none).
func (f *ellaFixture) exec(t *testing.T, act, in, out any) error {
	t.Helper()
	v, err := f.env.ExecuteActivity(act, in)
	if err == nil && out != nil {
		require.NoError(t, v.Get(out))
	}
	return err
}
