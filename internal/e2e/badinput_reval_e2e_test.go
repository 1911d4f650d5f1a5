//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/internal/testsupport/searchtest"
	"github.com/opsflow/opsflow/workflows"
)

// runRevalCorpus: a live build of the corpus's doctors serves; for each reval/ case a
// stand-in TCS and recommendation service answer the sync's commands with the case's
// messages, and `opsflow sync --wait` runs the sync. Each run fails with the case's type and
// the search engine is as before: the same builds, every alias on the live one, its documents.
func runRevalCorpus(t *testing.T, b *badInputDeployment, cases []badinput.Case) {
	es := searchtest.Fresh(t) // serialises the reval.* queues and indices with other tests
	ctx := waitCtx(t, 15*time.Minute)
	live := reval.MasterDoctorIndexName(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, es.CreateIndex(ctx, live, reval.MasterDoctorMapping()))
	var docs []esclient.Doc
	good := badinput.GoodRevalExchange()
	for i := 0; i < badinput.RevalDoctors; i++ {
		c, err := reval.ParseConnection([]byte(good.TCS[i]))
		require.NoError(t, err)
		g, err := reval.ParseIndexSync([]byte(good.GMC[i]))
		require.NoError(t, err)
		src := reval.ConnectionDoc(c)
		for k, v := range reval.GMCDoc(*g.Payload) {
			src[k] = v
		}
		docs = append(docs, esclient.Doc{ID: reval.DocID(c.TCSPersonID), Source: src})
	}
	_, err := es.BulkIndex(ctx, live, docs, esclient.WithRefresh())
	require.NoError(t, err)
	require.NoError(t, es.SwitchAliases(ctx, reval.AddAliases(live)))

	conn, err := amqpx.Dial(os.Getenv("OPSFLOW_AMQP_URL"))
	require.NoError(t, err, "OPSFLOW_AMQP_URL comes from scripts/stack env")
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.Declare(reval.Topology()))
	for _, bd := range reval.Topology().Bindings {
		_, err := conn.Purge(bd.Queue)
		require.NoError(t, err)
	}
	queueURL, err := b.sqs.EnsureQueue(ctx, reval.GMCSyncQueue(b.environment))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.sqs.DeleteQueue(context.Background(), queueURL) })

	// The stand-in services answer with the case under way.
	var current atomic.Pointer[badinput.RevalExchange]
	current.Store(&good)
	peerCtx, stopPeers := context.WithCancel(ctx)
	var peers sync.WaitGroup
	t.Cleanup(func() { stopPeers(); peers.Wait() })
	pub, err := conn.NewPublisher()
	require.NoError(t, err)
	peers.Add(2)
	go answerCommand(peerCtx, &peers, t, conn, reval.SyncStartQueue, reval.SyncStartCommand, func(ctx context.Context) error {
		for _, body := range current.Load().TCS {
			if err := pub.Publish(ctx, reval.Exchange, reval.SyncDataKey, []byte(body)); err != nil {
				return err
			}
		}
		return nil
	})
	go answerCommand(peerCtx, &peers, t, conn, reval.GMCSyncStartQueue, reval.GMCSyncStartCommand, func(ctx context.Context) error {
		for _, body := range current.Load().GMC { // one at a time: SQS keeps no order anyway
			if err := b.sqs.Send(ctx, queueURL, body); err != nil {
				return err
			}
		}
		return nil
	})

	before := revalState(t, es, live)
	var envs []badinput.Case
	for _, c := range cases {
		if c.Path == "names/reval-environment.json" {
			envs = append(envs, c)
			continue
		}
		require.True(t, strings.HasPrefix(c.Path, "reval/"), "no reval row runs %s", c.Path)
		t.Run(c.Path, func(t *testing.T) {
			var ex badinput.RevalExchange
			require.NoError(t, json.Unmarshal(corpus(t, c.Path), &ex))
			current.Store(&ex)
			out, err := b.starter("sync", "--wait", "--idle-timeout", "5s", "--heartbeat-timeout", "10s")
			assert.Error(t, err, "%s: %s", c.Path, out)
			b.refused(t, c, b.runErr(t, workflows.RevalidationSyncWorkflowID(b.environment), 3*time.Minute), c.Path)
			assert.Equal(t, before, revalState(t, es, live), "%s: the search engine changed: a build left, an alias moved or the live build touched", c.Path)
		})
	}
	current.Store(&good)
	for _, c := range envs {
		t.Run(c.Path, func(t *testing.T) { revalBadEnvironments(t, b, c, es, live, before) })
	}
}

// revalBadEnvironments: an environment name reaches the workflow id, the SQS queue name and
// the search attributes; one with `..`, spaces or shell metacharacters is refused
// (InvalidInput) before any build is made or any service asked.
func revalBadEnvironments(t *testing.T, b *badInputDeployment, c badinput.Case, es *esclient.Client, live, before string) {
	var envs []string
	require.NoError(t, json.Unmarshal(corpus(t, c.Path), &envs))
	d := b.deployment
	for i, env := range envs {
		t.Run(flat(env), func(t *testing.T) {
			out, err := b.starter("sync", "--environment", env, "--wait", "--idle-timeout", "5s", "--time-limit", "1m")
			assert.Error(t, err, "opsflow sync --environment %q: %s", env, out)
			if id := startedID(out); id != "" || strings.Contains(out, "started RevalidationSync") {
				b.refused(t, c, b.runErr(t, workflows.RevalidationSyncWorkflowID(env), 3*time.Minute), fmt.Sprintf("opsflow sync --environment %q", env))
			} else {
				assert.Contains(t, out, "is not a name of letters, digits and dashes", "opsflow sync --environment %q", env)
			}
			// The workflow checks it too: a plain Temporal CLI start fails InvalidInput.
			id := fmt.Sprintf("badinput-env-%d-%s", i, d.taskQueue)
			input, err := json.Marshal(map[string]string{"environment": env, "timeLimit": "1m"})
			require.NoError(t, err)
			d.temporalCLI("workflow", "start", "--type", "RevalidationSync", "--task-queue", d.taskQueue, "--workflow-id", id, "--input", string(input))
			b.refused(t, c, d.runErr(t, id, 2*time.Minute), fmt.Sprintf("Temporal CLI start with environment %q", env))
			assert.Equal(t, before, revalState(t, es, live), "--environment %q: the search engine changed", env)
		})
	}
}

// revalState describes the search engine as a sync must leave it when refused: the builds,
// where each alias points, and the live build's document count.
func revalState(t *testing.T, es *esclient.Client, live string) string {
	ctx := waitCtx(t, 30*time.Second)
	idx, err := es.ListIndices(ctx, reval.MasterDoctorIndexPattern)
	require.NoError(t, err)
	var names []string
	for _, ix := range idx {
		names = append(names, ix.Name)
	}
	sort.Strings(names)
	state := fmt.Sprintf("builds %v", names)
	for _, alias := range reval.AliasNames {
		on, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		state += fmt.Sprintf("; %s -> %v", alias, on)
	}
	require.NoError(t, es.Refresh(ctx, live))
	n, err := es.Count(ctx, live)
	require.NoError(t, err)
	return state + fmt.Sprintf("; %s holds %d", live, n)
}

// answerCommand stands in for a service: it consumes queue, and answers each JSON string
// command (anything else is rejected) before acknowledging it, until ctx ends.
func answerCommand(ctx context.Context, done *sync.WaitGroup, t *testing.T, conn *amqpx.Conn, queue, command string, answer func(context.Context) error) {
	defer done.Done()
	cons, err := conn.Consume(queue, 1)
	if err != nil {
		t.Errorf("consume %s: %v", queue, err)
		return
	}
	defer cons.Close()
	for ctx.Err() == nil {
		batch, err := cons.Batch(ctx, 1, time.Second)
		if errors.Is(err, amqpx.ErrIdle) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			t.Errorf("consume %s: %v", queue, err)
			return
		}
		var got string
		if json.Unmarshal(batch[0].Body, &got) != nil || got != command {
			_ = batch[0].Reject(false)
			continue
		}
		if err := answer(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("answering %s: %v", command, err)
		}
		_ = cons.Ack(batch[0])
	}
}
