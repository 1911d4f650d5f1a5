//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// ellaMailFrom is the sender the ELLA host workers of these tests use.
const ellaMailFrom = "ELLA drift <ella-drift@ous.test>"

// ellaHost is one stand-in ELLA host next to a deployment: its production directory (releases
// v1, v2, v3, ella.sif → v1, config files), a database on the stack's PostgreSQL at v1, its own
// supervisord running the stand-in's four programs, and an ELLA host worker process
// (OPSFLOW_WORKER_CENTRAL=false, OPSFLOW_WORKER_SITES=none, OPSFLOW_ELLA_*) polling its own
// task queue, as a real ELLA host runs beside the central worker.
type ellaHost struct {
	t       *testing.T
	name    string
	host    ellastub.Host
	stub    string
	dbURL   string
	sup     *supervisordtest.Instance
	client  *supervisor.Client
	pageURL string
	queue   string
}

// newEllaHost lays out a host called name. dbURL "" makes a fresh database migrated to v1; a
// failover host passes the primary's (both hosts use the same database). running says whether
// supervisord starts ELLA's programs (a failover host's stay STOPPED).
func newEllaHost(t *testing.T, d *deployment, name, stub, dbURL string, running bool) *ellaHost {
	t.Helper()
	host, err := ellastub.WriteHost(filepath.Join(d.dir, "ella-"+name))
	require.NoError(t, err)
	h := &ellaHost{t: t, name: name, host: host, stub: stub, dbURL: dbURL, queue: "ella-" + name + "-" + d.taskQueue}
	if h.dbURL == "" {
		h.dbURL, _ = ellastub.NewDatabase(t)
		h.cli(host.Link(), "database", "upgrade", "head") // the database of a running ELLA v1
	}
	listen := freeAddr(t)
	h.pageURL = "http://" + listen + "/"
	h.sup = supervisordtest.Start(t, host.Programs(stub, h.dbURL, listen, host.AccessLog(), running)...)
	h.client, err = supervisor.New(h.sup.URL, h.sup.Username, h.sup.Password, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.client.Close() })
	if running {
		h.waitRunning()
	}
	cliJSON, err := json.Marshal([]string{stub, "cli", "--image", ella.ImageArg})
	require.NoError(t, err)
	d.startWorkerNamed("ella-host-"+name,
		"OPSFLOW_WORKER_CENTRAL=false",
		"OPSFLOW_WORKER_SITES=none",
		"OPSFLOW_METRICS_ADDR="+freeAddr(t), // the central worker has the deployment's
		"OPSFLOW_ELLA_DIR="+host.Dir,
		"OPSFLOW_ELLA_TASK_QUEUE="+h.queue,
		"OPSFLOW_ELLA_CLI="+string(cliJSON),
		"OPSFLOW_ELLA_DB_URL="+h.dbURL,
		"OPSFLOW_ELLA_CONFIGS="+ellastub.UserGroupsFile+","+ellastub.FilterConfigsFile,
		"OPSFLOW_ELLA_SUPERVISOR_URL="+h.sup.URL,
		"OPSFLOW_ELLA_SUPERVISOR_USER="+h.sup.Username,
		"OPSFLOW_ELLA_SUPERVISOR_PASSWORD="+h.sup.Password,
		"OPSFLOW_ELLA_PAGE_URL="+h.pageURL,
		"OPSFLOW_ELLA_ACCESS_LOG="+host.AccessLog(),
		"OPSFLOW_ELLA_STABLE_FOR=1s",
		"OPSFLOW_SMTP_ADDR="+ellaStackEnv(t, "OPSFLOW_SMTP_ADDR"),
		"OPSFLOW_MAIL_FROM="+ellaMailFrom,
	)
	return h
}

// temporalCLIWithCodec runs the Temporal CLI with the stack's codec server, as README tells
// users to: the workers encrypt payloads, so a result (an Update's answer) is only readable
// through it.
func (d *deployment) temporalCLIWithCodec(args ...string) string {
	d.t.Helper()
	token, err := os.ReadFile(ellaStackEnv(d.t, "OPSFLOW_CODEC_TOKEN_FILE"))
	require.NoError(d.t, err)
	args = append(args, "--address", d.stack.address, "--namespace", d.stack.namespace)
	cmd := exec.Command(d.stack.temporalBin, append(args, "--codec-endpoint", ellaStackEnv(d.t, "OPSFLOW_CODEC_URL"),
		"--codec-auth", "Bearer "+strings.TrimSpace(string(token)))...)
	out, err := cmd.CombinedOutput()
	// The codec token is left out of the message.
	require.NoError(d.t, err, "temporal %s --codec-endpoint ... --codec-auth ...: %s", strings.Join(args, " "), out)
	return string(out)
}

// ellaStackEnv is a variable of scripts/stack env; a test fails (never skips) without it.
func ellaStackEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf(`%s is not set: run scripts/stack up and eval "$(scripts/stack env)"`, name)
	}
	return v
}

// cli runs the stand-in's ella-cli from image as an operator on the host would.
func (h *ellaHost) cli(image string, args ...string) string {
	h.t.Helper()
	cmd := exec.Command(h.stub, append([]string{"cli", "--image", image}, args...)...)
	cmd.Env = append(os.Environ(), "DB_URL="+h.dbURL)
	out, err := cmd.CombinedOutput()
	require.NoError(h.t, err, "ella-cli %v: %s", args, out)
	return string(out)
}

// sql runs a query on the host's database (psql variables :'name' from vars).
func (h *ellaHost) sql(query string, vars map[string]string) string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := ellastub.PSQL(ctx, h.dbURL, query, vars)
	require.NoError(h.t, err, query)
	return out
}

// link is where ella-prod/ella.sif points.
func (h *ellaHost) link() string {
	h.t.Helper()
	target, err := os.Readlink(h.host.Link())
	require.NoError(h.t, err)
	return target
}

// states are the supervisord states of ELLA's programs on this host.
func (h *ellaHost) states() map[string]string {
	h.t.Helper()
	out := map[string]string{}
	for _, p := range ella.Programs {
		info, err := h.client.ProcessInfo(context.Background(), p)
		require.NoError(h.t, err)
		out[p] = info.StateName
	}
	return out
}

// waitRunning waits until every program is RUNNING and the page answers.
func (h *ellaHost) waitRunning() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		for _, p := range ella.Programs {
			info, err := h.client.ProcessInfo(context.Background(), p)
			if err != nil || info.StateName != "RUNNING" {
				return false
			}
		}
		_, status := h.tryPage()
		return status == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond, "ELLA's programs on %s RUNNING and its page answering", h.name)
}

// tryPage fetches ELLA's page (0: no answer).
func (h *ellaHost) tryPage() (string, int) {
	return ellaGet(h.pageURL)
}

// page is ELLA's page text; it must answer 200.
func (h *ellaHost) page() string {
	h.t.Helper()
	body, status := h.tryPage()
	require.Equal(h.t, http.StatusOK, status, "ELLA's page %s: %s", h.pageURL, body)
	return body
}

func ellaGet(url string) (string, int) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err.Error(), 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode
}

// hasMigratedColumn says whether v2's migration is in the database.
func (h *ellaHost) hasMigratedColumn() bool {
	h.t.Helper()
	return h.sql(`SELECT count(*) FROM information_schema.columns WHERE table_name = :'t' AND column_name = :'c';`,
		map[string]string{"t": ellastub.MigratedTable, "c": ellastub.MigratedColumn}) == "1"
}

// activeBroadcasts are the messages of the active broadcast rows, in id order.
func (h *ellaHost) activeBroadcasts() []string {
	h.t.Helper()
	out := h.sql(`SELECT message FROM broadcast WHERE active ORDER BY id;`, nil)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// fingerprint is what a refused deploy must leave as it was: the symlink, the schema
// revision, the broadcasts and the programs' PIDs (a restart changes them).
func (h *ellaHost) fingerprint() string {
	h.t.Helper()
	var pids []string
	for _, p := range ella.Programs {
		info, err := h.client.ProcessInfo(context.Background(), p)
		require.NoError(h.t, err)
		pids = append(pids, fmt.Sprintf("%s=%s/%d", p, info.StateName, info.PID))
	}
	return fmt.Sprintf("link=%s rev=%s broadcasts=%s programs=%s", h.link(),
		h.sql(`SELECT version_num FROM alembic_version;`, nil),
		h.sql(`SELECT count(*) || ':' || coalesce(string_agg(id || '/' || active, ',' ORDER BY id), '') FROM broadcast;`, nil),
		strings.Join(pids, ","))
}

func allRunningStates() map[string]string { return allStates("RUNNING") }

func allStates(state string) map[string]string {
	m := map[string]string{}
	for _, p := range ella.Programs {
		m[p] = state
	}
	return m
}

// maildevMessage is what MailDev's REST API (GET /api/email) says of one received e-mail.
type maildevMessage struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    any    `json:"html"`
	To      []struct {
		Address string `json:"address"`
	} `json:"to"`
	Headers map[string]any `json:"headers"`
}

func (m maildevMessage) recipients() []string {
	var out []string
	for _, r := range m.To {
		out = append(out, r.Address)
	}
	return out
}

// maildevTo reads the stack's MailDev mailbox and returns the mails sent to any of addrs
// (addresses unique to a test: other tests' mail is never read nor deleted).
func maildevTo(t *testing.T, addrs ...string) []maildevMessage {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(ellaStackEnv(t, "OPSFLOW_MAILDEV_URL"), "/") + "/api/email")
	require.NoError(t, err, "MailDev (scripts/stack up)")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var all []maildevMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&all))
	want := map[string]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	var out []maildevMessage
	for _, m := range all {
		for _, r := range m.To {
			if want[r.Address] {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// waitMail waits until exactly n mails with subject went to addr, and returns them.
func waitMail(t *testing.T, addr, subject string, n int) []maildevMessage {
	t.Helper()
	var got []maildevMessage
	ok := assert.Eventually(t, func() bool {
		got = nil
		for _, m := range maildevTo(t, addr) {
			if m.Subject == subject {
				got = append(got, m)
			}
		}
		return len(got) == n
	}, 20*time.Second, 200*time.Millisecond, "%d e-mail(s) %q to %s", n, subject, addr)
	if !ok {
		for _, m := range maildevTo(t, addr) {
			t.Logf("mail to %v: %q", m.recipients(), m.Subject)
		}
	}
	return got
}

// assertNoSecret checks no e-mail of addrs shows a secret of the ELLA host's worker: the
// database password (in clear or in a URL) or the supervisord password.
func assertNoSecret(t *testing.T, h *ellaHost, addrs ...string) {
	t.Helper()
	dbPassword := ellaStackEnv(t, "OPSFLOW_PG_PASSWORD")
	mails := maildevTo(t, addrs...)
	require.NotEmpty(t, mails)
	for _, m := range mails {
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		for _, s := range []string{":" + dbPassword + "@", h.dbURL, "postgres://", h.sup.Password, "DB_URL"} {
			assert.NotContains(t, string(raw), s, "e-mail %q", m.Subject)
		}
		// The stack's database password may be a common word (the dev stack's is the role's
		// name): it must not be a word of the text people read.
		for _, part := range []string{m.Subject, m.Text} {
			assert.NotRegexp(t, `(?i)\b`+regexp.QuoteMeta(dbPassword)+`\b`, part, "e-mail %q shows the database password", m.Subject)
		}
	}
}
