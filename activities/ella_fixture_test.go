package activities

import (
	"context"
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
	ellaV1 = ellastub.ReleaseV1
	ellaV2 = ellastub.ReleaseV2
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
	f := &ellaFixture{dir: t.TempDir(), stub: ellastub.Build(t)}
	var dbName string
	f.dbURL, dbName = ellastub.NewDatabase(t)
	host, err := ellastub.WriteHost(f.dir)
	require.NoError(t, err)
	f.sums = host.Sums
	link := host.Link()

	// The database at v1, as a running ELLA v1 has it.
	f.stubCLI(t, link, "database", "upgrade", "head")

	port := ellaFreePort(t)
	f.pageURL = fmt.Sprintf("http://127.0.0.1:%d/", port)
	programs := host.Programs(f.stub, f.dbURL, fmt.Sprintf("127.0.0.1:%d", port), "", false)
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
