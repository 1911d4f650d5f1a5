//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
	"github.com/opsflow/opsflow/internal/testsupport/leakscan"
	"github.com/opsflow/opsflow/internal/testsupport/searchtest"
	"github.com/opsflow/opsflow/internal/watchers"
)

// securityRevalidation: a revalidation sync of 15 generated doctors whose names and GMC
// numbers are planted (TCS and the recommendation service answered by peers in the test, on
// the real RabbitMQ and SQS), checked to be in the new build, then a rollback (refused:
// nothing served before).
func securityRevalidation(t *testing.T, report *leakReport) {
	d := newDeployment(t)
	c := newLeakCheck(t, d, "revalidation", report)
	es := searchtest.Fresh(t) // serialised with every test of the revalidation's fixed names (may wait)
	ctx := waitCtx(t, 5*time.Minute)
	d.env = append(d.env, "OPSFLOW_ES_URL="+searchtest.URL(t), "OPSFLOW_SQS_VISIBILITY=5s")
	stamp := time.Now().UnixNano()
	tcs, gmcOnly := plantedDoctors(stamp, 0, 12), plantedDoctors(stamp, 12, 3)
	var doctors []leakscan.Secret
	for _, doc := range append(slices.Clone(tcs), gmcOnly...) {
		doctors = append(doctors, leakscan.Secret{Name: "doctor first name", Value: doc.Connection.DoctorFirstName},
			leakscan.Secret{Name: "doctor last name", Value: doc.Connection.DoctorLastName},
			leakscan.Secret{Name: "GMC number", Value: doc.Connection.GMCReferenceNumber})
	}
	c.secrets = append(c.secrets, doctors...)

	conn, err := amqpx.Dial(ellaStackEnv(t, "OPSFLOW_AMQP_URL"))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.Declare(reval.Topology()))
	for _, b := range reval.Topology().Bindings {
		_, err := conn.Purge(b.Queue)
		require.NoError(t, err)
	}
	sqs, err := sqsclient.New(ctx, ellaStackEnv(t, "OPSFLOW_SQS_ENDPOINT"), "us-east-1")
	require.NoError(t, err)
	queueURL, err := sqs.EnsureQueue(ctx, reval.GMCSyncQueue(d.environment))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqs.DeleteQueue(context.Background(), queueURL) })
	peers := servePlantedPeers(ctx, conn, sqs, queueURL, tcs, gmcOnly)

	d.startWorker()
	out, err := c.starter("sync", "--wait", "--heartbeat-timeout", "10s", "--idle-timeout", "2m")
	require.NoError(t, err, out)
	require.NoError(t, peers())

	// The doctors went through the run: their names and numbers are in the new build.
	builds, err := es.ListIndices(ctx, reval.MasterDoctorIndexPattern)
	require.NoError(t, err)
	require.Len(t, builds, 1)
	require.NoError(t, es.Refresh(ctx, builds[0].Name))
	var docs []byte
	require.NoError(t, es.Scan(ctx, builds[0].Name, nil, 1000, func(_ string, src json.RawMessage) error {
		docs = append(docs, src...)
		return nil
	}))
	inBuild := map[string]int{}
	for _, f := range leakscan.Must(doctors...).Scan("new build", docs) {
		if f.Form == leakscan.FormClear {
			inBuild[f.Secret] += f.Count
		}
	}
	for _, name := range []string{"doctor first name", "doctor last name", "GMC number"} {
		assert.GreaterOrEqual(t, inBuild[name], len(tcs)+len(gmcOnly), "%s: the planted doctors are not all in the new build", name)
	}

	out, err = c.starter("sync", "--rollback")
	t.Logf("opsflow sync --rollback (nothing served before): %v\n%s", err, out)
	c.expect("RevalidationSync", "RevalidationRollback")
	c.check()
}

// plantedDoctors are generated doctors from..from+n-1 with unique planted names and GMC numbers.
func plantedDoctors(stamp int64, from, n int) []revalsim.Doctor {
	var out []revalsim.Doctor
	for i := from; i < from+n; i++ {
		doc := revalsim.Generate(uint64(stamp), i)
		tag := ""
		for v := stamp/1000%1000000*100 + int64(i); v > 0; v /= 26 {
			tag += string(rune('a' + v%26))
		}
		first, last := "Ingeborg"+tag, "Haugland"+tag
		gmc := fmt.Sprintf("%07d", 7000000+int(stamp/1000%900)*1000+i)
		doc.Connection.DoctorFirstName, doc.Connection.DoctorLastName, doc.Connection.GMCReferenceNumber = first, last, gmc
		doc.GMC.Doctor.DoctorFirstName, doc.GMC.Doctor.DoctorLastName, doc.GMC.Doctor.GMCReferenceNumber = first, last, gmc
		out = append(out, doc)
	}
	return out
}

// servePlantedPeers answers the sync's syncStart (TCS: the tcs doctors and the syncEnd on
// RabbitMQ) and gmcSyncStart (the recommendation service: every doctor's GMC record and the
// syncEnd on SQS) once each, as revalsim's simulators do for generated doctors. The returned
// function waits for both answers and returns their errors.
func servePlantedPeers(ctx context.Context, conn *amqpx.Conn, sqs *sqsclient.Client, queueURL string, tcs, gmcOnly []revalsim.Doctor) func() error {
	errs := make(chan error, 2)
	answer := func(queue, command string, send func() error) {
		errs <- func() error {
			cons, err := conn.Consume(queue, 1)
			if err != nil {
				return err
			}
			defer cons.Close()
			for {
				batch, err := cons.Batch(ctx, 1, time.Second)
				if errors.Is(err, amqpx.ErrIdle) {
					continue
				}
				if err != nil {
					return fmt.Errorf("%s: %w", queue, err)
				}
				var got string
				if json.Unmarshal(batch[0].Body, &got) != nil || got != command {
					_ = batch[0].Reject(false)
					continue
				}
				if err := send(); err != nil {
					return fmt.Errorf("answer %s: %w", command, err)
				}
				return cons.Ack(batch[0])
			}
		}()
	}
	go answer(reval.SyncStartQueue, reval.SyncStartCommand, func() error {
		pub, err := conn.NewPublisher()
		if err != nil {
			return err
		}
		defer pub.Close()
		var bodies [][]byte
		for _, doc := range tcs {
			b, err := json.Marshal(doc.Connection)
			if err != nil {
				return err
			}
			bodies = append(bodies, b)
		}
		if err := pub.PublishBatch(ctx, reval.Exchange, reval.SyncDataKey, bodies); err != nil {
			return err
		}
		end, err := json.Marshal(map[string]any{"syncEnd": true, "count": len(tcs)})
		if err != nil {
			return err
		}
		return pub.Publish(ctx, reval.Exchange, reval.SyncDataKey, end)
	})
	go answer(reval.GMCSyncStartQueue, reval.GMCSyncStartCommand, func() error {
		var bodies []string
		for _, doc := range append(slices.Clone(tcs), gmcOnly...) {
			gmc := doc.GMC
			b, err := json.Marshal(reval.IndexSyncMessage{Payload: &gmc})
			if err != nil {
				return err
			}
			bodies = append(bodies, string(b))
		}
		end, err := json.Marshal(reval.IndexSyncMessage{SyncEnd: true, Count: int64(len(tcs) + len(gmcOnly))})
		if err != nil {
			return err
		}
		return sqs.Send(ctx, queueURL, append(bodies, string(end))...)
	})
	return func() error { return errors.Join(<-errs, <-errs) }
}

// securityElla: an ELLA deploy to the acceptance gate, approved with `opsflow ella decide`,
// then the ella-health schedule triggered once (EllaHealth), on an ELLA host whose database
// role has a planted password and whose supervisord has its own; the e-mails are checked too.
func securityElla(t *testing.T, report *leakReport) {
	d := newDeployment(t)
	c := newLeakCheck(t, d, "ELLA", report)
	dbURL, dbPassword := plantedEllaDatabase(t)
	c.secret("ELLA database password", dbPassword)
	d.startWorker()
	stub := ellastub.Build(t)
	host, err := ellastub.WriteHost(filepath.Join(t.TempDir(), "ella-migrate")) // the database of a running ELLA v1
	require.NoError(t, err)
	migrate := exec.Command(stub, "cli", "--image", host.Link(), "database", "upgrade", "head")
	migrate.Env = append(os.Environ(), "DB_URL="+dbURL)
	out, err := migrate.CombinedOutput()
	require.NoError(t, err, "ella-cli database upgrade head: %s", out)

	e := &ellaE2E{d: d, stub: stub, nanos: time.Now().UnixNano(), window: "tirsdag 1. desember 16–18"}
	e.h = newEllaHost(t, d, "p", stub, dbURL, true)
	c.secret("ELLA supervisord password", e.h.sup.Password)
	e.users, e.testers = fmt.Sprintf("users-sec-%d@ous.test", e.nanos), fmt.Sprintf("testers-sec-%d@ous.test", e.nanos)
	ops := fmt.Sprintf("ops-sec-%d@ous.test", e.nanos)
	c.mailTo = []string{e.users, e.testers, ops}

	schedules := filepath.Join(d.dir, "schedules.json")
	entries := []watchers.Schedule{{Watcher: watchers.EllaHealth.Name, Cron: "0 0 1 1 *", To: []string{ops}, TaskQueue: e.h.queue}}
	for _, w := range watchers.All {
		entries = append(entries, watchers.Schedule{Watcher: w.Name, Cron: "0 0 1 1 *", Note: "e2e: triggered by the test"})
	}
	require.NoError(t, os.WriteFile(schedules, leakJSON(t, entries), 0o600))
	d.env = append(d.env, "OPSFLOW_SCHEDULES_FILE="+schedules)
	for _, w := range watchers.Known() {
		id := watchers.ScheduleID(w.Name, d.environment)
		c.schedules = append(c.schedules, id)
		t.Cleanup(func() { _ = d.client.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background()) })
	}

	version := fmt.Sprintf("v2.0.0+sec%d", e.nanos)
	out2, err := c.starter(e.deployArgs(version, ellastub.ReleaseV2, "--wait-gate")...)
	require.NoError(t, err, out2)
	id := workflowIDOf(t, out2)
	waitGate(t, d, id)
	out2, err = c.starter("ella", "decide", "--workflow-id", id, "--approve", "--by", "Lege Testesen", "--comment", "bestått", "--wait")
	require.NoError(t, err, out2)
	out2, err = c.starter("schedules", "apply")
	require.NoError(t, err, out2)
	out2, err = c.starter("schedules", "trigger", watchers.EllaHealth.Name, "--wait", "--timeout", "5m")
	require.NoError(t, err, out2)
	require.NotEmpty(t, waitMail(t, e.users, "ELLA "+version+" er tilbake", 1), "the deploy's last e-mail")

	c.expect("EllaDeploy", "EllaHealth")
	c.check()
}

// plantedEllaDatabase makes a database owned by a role of its own with a random password on
// the stack's PostgreSQL (as the postgres OS user: the stack's role may not create roles), and
// drops both when the test ends.
func plantedEllaDatabase(t *testing.T) (dbURL, password string) {
	t.Helper()
	u, err := url.Parse(ellaStackEnv(t, "OPSFLOW_PG_URL"))
	require.NoError(t, err)
	if os.Geteuid() != 0 {
		t.Fatal("the ELLA leak check creates a PostgreSQL role with a planted password as the postgres OS user (runuser): run the e2e tests as root, as `make test` on the dev machine does")
	}
	b := make([]byte, 12)
	_, err = rand.Read(b)
	require.NoError(t, err)
	name := "ella_sec_" + hex.EncodeToString(b[:5])
	password = "pw-" + hex.EncodeToString(b)
	asPostgres := func(sql string) error {
		cmd := exec.Command("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-p", u.Port(), "-d", "postgres")
		cmd.Stdin = strings.NewReader(sql)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("psql as postgres: %w: %s", err, out)
		}
		return nil
	}
	require.NoError(t, asPostgres(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;", name, password, name, name)))
	t.Cleanup(func() {
		assert.NoError(t, asPostgres(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nDROP ROLE IF EXISTS %s;", name, name)))
	})
	u.User = url.UserPassword(name, password)
	u.Path = "/" + name
	return u.String(), password
}
