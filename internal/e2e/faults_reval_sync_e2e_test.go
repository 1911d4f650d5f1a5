//go:build e2e

package e2e

// The plumbing of TestFaultsRevalidationSync (faults_reval_e2e_test.go): the shared private
// servers and worker, one sync under a fault, and what a complete or a refused sync leaves.

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/revalsim"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/testsupport/faults"
	"github.com/opsflow/opsflow/internal/testsupport/privateserver"
	"github.com/opsflow/opsflow/workflows"
)

// revalFaults is what the sync's fault tests share: the private servers (one OpenSearch, its JVM
// slow to start, one RabbitMQ, one ElasticMQ), one deployment with one worker on them (it reaches
// OpenSearch and SQS through toxiproxy links) and the producers' SQS client. The subtests run
// one after another: the sync's index pattern, aliases and RabbitMQ queues are fixed names (the
// services' contract) and the environment's sync runs one at a time.
type revalFaults struct {
	os              *privateserver.OpenSearch
	rabbit          *privateserver.RabbitMQ
	sqs             *privateserver.ElasticMQ
	d               *deployment
	esLink, sqsLink *privateserver.Link
	sqsc            *sqsclient.Client
	queueURL        string
}

// syncFaultOptions shape one sync of a fault test.
type syncFaultOptions struct {
	// esLatencyMs slows every OpenSearch answer to the worker, so the fault lands mid-ingest.
	esLatencyMs int
	// recommendationLater: the recommendation simulator is started by the test (startRecommendation).
	recommendationLater bool
	// idleTimeout is the sync's --idle-timeout (default 2m).
	idleTimeout string
}

// faultSync is one sync under a fault: its deployment (worker, environment), the producers,
// the links from the worker to OpenSearch and SQS, and the run.
type faultSync struct {
	w                *revalFaults
	t                *testing.T
	d                *deployment
	live, id         string
	esLink, sqsLink  *privateserver.Link
	tcs              *revalsim.TCS
	simCtx           context.Context
	recommendationOn bool
	began            time.Time
}

func (w *revalFaults) client(t *testing.T) *esclient.Client {
	t.Helper()
	es, err := esclient.New(w.os.URL)
	require.NoError(t, err)
	return es
}

// newRevalFaults starts the private servers, the deployment's worker on them and the links.
func newRevalFaults(t *testing.T) *revalFaults {
	began := time.Now()
	w := &revalFaults{os: privateserver.StartOpenSearch(t), rabbit: privateserver.StartRabbitMQ(t), sqs: privateserver.StartElasticMQ(t)}
	t.Logf("private OpenSearch, RabbitMQ and ElasticMQ answered after %s", time.Since(began).Round(time.Second))
	w.d = newDeployment(t)
	esProxy, sqsProxy := faults.In(t, w.os.URL), faults.In(t, w.sqs.Endpoint)
	w.esLink, w.sqsLink = privateserver.LinkOf(t, esProxy), privateserver.LinkOf(t, sqsProxy)
	ctx := waitCtx(t, time.Minute)
	var err error
	w.sqsc, err = sqsclient.New(ctx, w.sqs.Endpoint, "us-east-1")
	require.NoError(t, err)
	w.queueURL, err = w.sqsc.EnsureQueue(ctx, reval.GMCSyncQueue(w.d.environment))
	require.NoError(t, err)
	w.d.startWorkerNamed("worker", "OPSFLOW_AMQP_URL="+w.rabbit.URL, "OPSFLOW_ES_URL="+esProxy.URL,
		"OPSFLOW_SQS_ENDPOINT="+sqsProxy.URL, "OPSFLOW_SQS_VISIBILITY=5s", "OPSFLOW_REVAL_BATCH=100")
	return w
}

// newSync clears the sync's names on the private OpenSearch, creates the live build that serves,
// sets the links' faults for the subtest, starts the simulators and the sync with the starter.
func (w *revalFaults) newSync(t *testing.T, o syncFaultOptions) *faultSync {
	ctx := waitCtx(t, 10*time.Minute)
	es := w.client(t)
	all, err := es.ListIndices(ctx, reval.MasterDoctorAlias+"*")
	require.NoError(t, err)
	for _, ix := range all {
		require.NoError(t, es.DeleteIndex(ctx, ix.Name))
	}
	s := &faultSync{w: w, t: t, d: w.d, esLink: w.esLink, sqsLink: w.sqsLink,
		live: reval.MasterDoctorIndexName(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	require.NoError(t, es.CreateIndex(ctx, s.live, reval.MasterDoctorMapping()))
	var docs []esclient.Doc
	for i := range faultLive {
		g := revalsim.Generate(faultSeed+1, i)
		src := reval.ConnectionDoc(convert[reval.ConnectionInfo](t, g.Connection))
		for k, v := range reval.GMCDoc(convert[reval.RevalidationSummary](t, g.GMC)) {
			src[k] = v
		}
		docs = append(docs, esclient.Doc{ID: reval.DocID(g.Connection.TCSPersonID), Source: src})
	}
	_, err = es.BulkIndex(ctx, s.live, docs, esclient.WithRefresh())
	require.NoError(t, err)
	require.NoError(t, es.SwitchAliases(ctx, reval.AddAliases(s.live)))

	w.esLink.Clear()
	w.sqsLink.Clear()
	t.Cleanup(func() { w.esLink.Clear(); w.sqsLink.Clear() })
	if o.esLatencyMs > 0 {
		s.esLink.Latency(o.esLatencyMs, o.esLatencyMs/4)
	}

	conn, err := amqpx.Dial(w.rabbit.URL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.Declare(reval.Topology()))
	for _, b := range reval.Topology().Bindings {
		_, err := conn.Purge(b.Queue)
		require.NoError(t, err)
	}
	w.queueURL, err = w.sqsc.EnsureQueue(ctx, reval.GMCSyncQueue(w.d.environment)) // gone if ElasticMQ restarted
	require.NoError(t, err)
	simCtx, stopSims := context.WithCancel(ctx)
	t.Cleanup(stopSims)
	s.simCtx = simCtx
	s.tcs = &revalsim.TCS{Conn: conn, Doctors: faultDoctors, Seed: faultSeed}
	go func() { _ = s.tcs.Run(simCtx) }()
	if !o.recommendationLater {
		s.startRecommendation()
	}
	idle := o.idleTimeout
	if idle == "" {
		idle = "2m"
	}
	out, err := s.d.starter("sync", "--heartbeat-timeout", "5s", "--idle-timeout", idle)
	require.NoError(t, err, out)
	s.id = workflows.RevalidationSyncWorkflowID(s.d.environment)
	require.Contains(t, out, s.id)
	t.Cleanup(func() { // a subtest that failed early leaves no sync running for the next one
		_ = s.d.client.TerminateWorkflow(context.Background(), s.id, "", "fault subtest ended")
	})
	s.began = time.Now()
	return s
}

// logf logs a step of the subtest with the time since its sync started.
func (s *faultSync) logf(format string, args ...any) {
	s.t.Helper()
	s.t.Logf("+%s "+format, append([]any{time.Since(s.began).Round(100 * time.Millisecond)}, args...)...)
}

// startRecommendation runs the recommendation simulator on a new connection to the broker.
func (s *faultSync) startRecommendation() {
	conn, err := amqpx.Dial(s.w.rabbit.URL)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { conn.Close() })
	rec := &revalsim.Recommendation{AMQP: conn, SQS: s.w.sqsc, QueueURL: s.w.queueURL, Doctors: faultDoctors, GMCOnly: faultGMCOnly, Seed: faultSeed}
	go func() { _ = rec.Run(s.simCtx) }()
	s.recommendationOn = true
}

// buildName waits for the new build (the index of the pattern that is not the live one).
func (s *faultSync) buildName() string {
	var name string
	require.Eventually(s.t, func() bool {
		all, err := s.w.client(s.t).ListIndices(context.Background(), reval.MasterDoctorIndexPattern)
		if err != nil {
			return false
		}
		for _, ix := range all {
			if ix.Name != s.live {
				name = ix.Name
			}
		}
		return name != ""
	}, 3*time.Minute, 100*time.Millisecond, "the sync created its build")
	return name
}

// waitBuild waits until the new build holds at least min doctors (and not all of them: the
// fault must land mid-ingest) and returns its name and count.
func (s *faultSync) waitBuild(min int64) (string, int64) {
	build := s.buildName()
	es := s.w.client(s.t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_ = es.Refresh(context.Background(), build)
		n, err := es.Count(context.Background(), build)
		if err == nil && n >= min {
			require.Less(s.t, n, int64(faultDoctors), "syncData finished before the fault: the test needs a slower ingest")
			return build, n
		}
		require.True(s.t, time.Now().Before(deadline), "the build %s never held %d doctors (last %d, %v)", build, min, n, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// waitGMC waits until at least min documents of the build carry GMC data.
func (s *faultSync) waitGMC(build string, min int64) int64 {
	es := s.w.client(s.t)
	var n int64
	require.Eventually(s.t, func() bool {
		_ = es.Refresh(context.Background(), build)
		var err error
		n, err = es.CountQuery(context.Background(), build, map[string]any{"exists": map[string]any{"field": "existsInGmc"}})
		return err == nil && n >= min
	}, 3*time.Minute, 50*time.Millisecond, "GMC data reached the build")
	require.Less(s.t, n, int64(faultDoctors+faultGMCOnly), "gmcSync finished before the fault: the test needs a slower ingest")
	return n
}

func (s *faultSync) result() (*workflows.RevalidationSyncResult, error) {
	ctx := waitCtx(s.t, 8*time.Minute)
	var res *workflows.RevalidationSyncResult
	err := s.d.client.GetWorkflow(ctx, s.id, "").Get(ctx, &res)
	return res, err
}

// assertComplete: the sync switched to its build, which holds every doctor exactly once.
func (s *faultSync) assertComplete(res *workflows.RevalidationSyncResult, build string) {
	t := s.t
	require.NotNil(t, res)
	ctx := context.Background()
	assert.Equal(t, build, res.Index)
	assert.Equal(t, workflows.OutcomeSucceeded, res.Outcome)
	assert.Equal(t, int64(faultDoctors), res.Connections.Docs)
	assert.Equal(t, int64(faultDoctors), res.Connections.Announced)
	assert.Equal(t, int64(faultDoctors+faultGMCOnly), res.GMC.Docs)
	assert.Equal(t, int64(faultGMCOnly), res.GMC.Created)
	assert.Equal(t, int64(faultDoctors+faultGMCOnly), res.Counts.Total)
	assert.Equal(t, []string{s.live}, res.Previous)
	assert.Empty(t, res.Warnings)
	es := s.w.client(t)
	seen := map[string]bool{}
	ids := 0
	require.NoError(t, es.Scan(ctx, res.Index, []string{"gmcReferenceNumber"}, 5000, func(id string, src json.RawMessage) error {
		ids++
		gmc := reval.GMCNumberOf(src)
		assert.False(t, seen[gmc], "duplicate GMC number %s in the new build", gmc)
		seen[gmc] = true
		return nil
	}))
	assert.Equal(t, faultDoctors+faultGMCOnly, ids, "every doctor exactly once")
	for _, alias := range reval.AliasNames {
		idx, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		assert.Equal(t, []string{res.Index}, idx, alias)
	}
}

// assertLiveServes: the four aliases are on the live build, which holds what it held.
func (s *faultSync) assertLiveServes() {
	t := s.t
	ctx := context.Background()
	es := s.w.client(t)
	for _, alias := range reval.AliasNames {
		idx, err := es.AliasIndices(ctx, alias)
		require.NoError(t, err)
		assert.Equal(t, []string{s.live}, idx, alias)
	}
	n, err := es.Count(ctx, reval.MasterDoctorAlias)
	require.NoError(t, err)
	assert.Equal(t, int64(faultLive), n)
}
