//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/reval"
	"github.com/opsflow/opsflow/internal/testsupport/privateserver"
)

// The revalidation sync's population in the fault tests: TCS knows faultDoctors doctors, GMC
// those and faultGMCOnly more; the live build that serves meanwhile holds faultLive.
const (
	faultDoctors = 3000
	faultGMCOnly = 50
	faultLive    = 2900
	faultSeed    = 13
)

// TestFaultsRevalidationSync: the sync survives its dependencies failing mid-run, each on a
// private server: RabbitMQ restarted mid-syncData, OpenSearch stopped mid-bulk and started
// again, latency/bandwidth and connection resets on the links to OpenSearch and SQS; and when
// ElasticMQ (in memory) restarts mid-gmcSync and loses the answer, the sync fails naming the
// silent queue, drops its build and leaves the live index serving.
func TestFaultsRevalidationSync(t *testing.T) {
	t.Parallel()
	w := newRevalFaults(t)

	t.Run("RabbitMQRestartedMidSyncData", func(t *testing.T) {
		s := w.newSync(t, syncFaultOptions{esLatencyMs: 150, recommendationLater: true})
		require.Eventually(t, func() bool { return s.tcs.Answered.Load() == 1 }, 2*time.Minute, 50*time.Millisecond, "TCS answered syncStart")
		build, stored := s.waitBuild(600)
		s.logf("stopping RabbitMQ at %d stored", stored)
		w.rabbit.Stop()
		failure := faultWaitFailedAttempt(t, s.d, s.id, "IngestConnections", 2*time.Minute)
		s.logf("ingest failed: %s", faultShort(failure))
		w.rabbit.Start()
		s.logf("RabbitMQ answers again")
		s.startRecommendation() // its connection went with the broker
		res, err := s.result()
		s.logf("sync ended: %v", err)
		require.NoError(t, err, "the sync completes once RabbitMQ is back")
		s.assertComplete(res, build)
		attempts, _ := faultAttempts(t, s.d, s.id, "IngestConnections")
		require.NotEmpty(t, attempts)
		assert.GreaterOrEqual(t, attempts[len(attempts)-1], int32(2), "the ingest was retried after the restart")
		privateserver.Report(t, privateserver.Result{Fault: "RabbitMQ stopped and started mid-syncData (private broker)",
			Procedure: "RevalidationSync",
			Expected:  "ingest retried once the broker is back; unacknowledged messages redelivered; exact counts; aliases on the new build",
			Observed: fmt.Sprintf("stopped at %d/%d stored; ingest failed (%s), completed on attempt %d; %d connections, %d GMC, %d docs, 4 aliases on %s",
				stored, faultDoctors, faultShort(failure), attempts[len(attempts)-1], res.Connections.Docs, res.GMC.Docs, res.Counts.Total, res.Index)})
	})

	t.Run("OpenSearchStoppedMidBulk", func(t *testing.T) {
		s := w.newSync(t, syncFaultOptions{esLatencyMs: 150})
		build, stored := s.waitBuild(600)
		s.logf("stopping OpenSearch at %d stored", stored)
		w.os.Stop()
		failure := faultWaitFailedAttempt(t, s.d, s.id, "IngestConnections", 2*time.Minute)
		s.logf("ingest failed: %s", faultShort(failure))
		time.Sleep(3 * time.Second) // down across more than one attempt
		w.os.Start()
		s.logf("OpenSearch answers again")
		res, err := s.result()
		s.logf("sync ended: %v", err)
		require.NoError(t, err, "the sync completes once OpenSearch is back")
		s.assertComplete(res, build)
		attempts, _ := faultAttempts(t, s.d, s.id, "IngestConnections")
		require.NotEmpty(t, attempts)
		assert.GreaterOrEqual(t, attempts[len(attempts)-1], int32(2))
		privateserver.Report(t, privateserver.Result{Fault: "OpenSearch stopped mid-bulk and started again (private node, process stop)",
			Procedure: "RevalidationSync",
			Expected:  "ingest retried after the restart; bulks re-sent overwrite their documents; exact count; aliases switched only then",
			Observed: fmt.Sprintf("stopped at %d/%d stored; ingest failed (%s), completed on attempt %d; %d docs, no duplicate GMC number, 4 aliases on %s",
				stored, faultDoctors, faultShort(failure), attempts[len(attempts)-1], res.Counts.Total, res.Index)})
	})

	t.Run("NetworkFaultsOnOpenSearchAndSQS", func(t *testing.T) {
		s := w.newSync(t, syncFaultOptions{esLatencyMs: 100})
		s.esLink.Bandwidth(256, 0)
		s.sqsLink.Latency(100, 30)
		s.sqsLink.Bandwidth(0, 256)
		build, stored := s.waitBuild(600)
		s.logf("resetting the OpenSearch link at %d stored", stored)
		s.esLink.Reset()
		esFailure := faultWaitFailedAttempt(t, s.d, s.id, "IngestConnections", 2*time.Minute)
		s.esLink.Clear(privateserver.FaultReset)
		s.logf("ingest failed, link healed: %s", faultShort(esFailure))
		faultWaitPending(t, s.d, s.id, "IngestGMC", 3*time.Minute)
		withGMC := s.waitGMC(build, 100)
		s.logf("resetting the SQS link at %d GMC docs stored", withGMC)
		s.sqsLink.Reset()
		sqsFailure := faultWaitFailedAttempt(t, s.d, s.id, "IngestGMC", 2*time.Minute)
		s.sqsLink.Clear(privateserver.FaultReset)
		s.logf("GMC ingest failed, link healed: %s", faultShort(sqsFailure))
		res, err := s.result()
		s.logf("sync ended: %v", err)
		require.NoError(t, err, "the sync completes once the links heal")
		s.assertComplete(res, build)
		tcsAttempts, _ := faultAttempts(t, s.d, s.id, "IngestConnections")
		gmcAttempts, _ := faultAttempts(t, s.d, s.id, "IngestGMC")
		require.NotEmpty(t, tcsAttempts)
		require.NotEmpty(t, gmcAttempts)
		assert.GreaterOrEqual(t, tcsAttempts[len(tcsAttempts)-1], int32(2))
		assert.GreaterOrEqual(t, gmcAttempts[len(gmcAttempts)-1], int32(2))
		privateserver.Report(t, privateserver.Result{Fault: "OpenSearch link: latency 100±25 ms, upload 256 KB/s, resets mid-syncData (toxiproxy)",
			Procedure: "RevalidationSync",
			Expected:  "slower but complete; a reset fails the ingest attempt, the retry resumes; exact counts",
			Observed: fmt.Sprintf("reset at %d/%d stored: %s; completed on attempt %d with %d connections, %d docs",
				stored, faultDoctors, faultShort(esFailure), tcsAttempts[len(tcsAttempts)-1], res.Connections.Docs, res.Counts.Total)})
		privateserver.Report(t, privateserver.Result{Fault: "SQS link: latency 100±30 ms, download 256 KB/s, resets mid-gmcSync (toxiproxy)",
			Procedure: "RevalidationSync",
			Expected:  "the GMC ingest attempt fails, undeleted messages come back after their visibility timeout; exact counts",
			Observed: fmt.Sprintf("reset at %d GMC docs stored: %s; completed on attempt %d with %d GMC docs (%d GMC-only created), %d in the build",
				withGMC, faultShort(sqsFailure), gmcAttempts[len(gmcAttempts)-1], res.GMC.Docs, res.GMC.Created, res.Counts.Total)})
	})

	t.Run("ElasticMQRestartedMidGMCSyncLosesTheAnswer", func(t *testing.T) {
		s := w.newSync(t, syncFaultOptions{esLatencyMs: 300, idleTimeout: "30s"})
		faultWaitPending(t, s.d, s.id, "IngestGMC", 3*time.Minute)
		build := s.buildName()
		withGMC := s.waitGMC(build, 1)
		s.logf("restarting ElasticMQ at %d GMC docs stored", withGMC)
		w.sqs.Restart() // in memory: the queue and the recommendation service's answer are gone
		s.logf("ElasticMQ answers again")
		res, err := s.result()
		s.logf("sync ended: %v", err)
		require.Error(t, err, "the sync must not switch to a build without GMC data")
		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "an application error, got %v", err)
		assert.Contains(t, []string{"SyncDataTimeout", "SyncIncomplete"}, app.Type(), "%v", err)
		assert.Contains(t, app.Error(), reval.GMCSyncQueue(s.d.environment), "the error names the silent queue")
		assert.Nil(t, res)
		es := w.client(t)
		exists, err2 := es.IndexExists(context.Background(), build)
		require.NoError(t, err2)
		assert.False(t, exists, "the unused build %s is dropped", build)
		s.assertLiveServes()
		privateserver.Report(t, privateserver.Result{Fault: "ElasticMQ (in memory) restarted mid-gmcSync: the answer is lost (private server)",
			Procedure: "RevalidationSync",
			Expected:  "no switch to a build without GMC data: the run fails naming the silent queue, drops its build, live alias untouched",
			Observed: fmt.Sprintf("restarted at %d GMC docs stored; failed %s: %s; build dropped; 4 aliases still on %s (%d docs)",
				withGMC, app.Type(), faultShort(app.Error()), s.live, faultLive)})
	})
}
