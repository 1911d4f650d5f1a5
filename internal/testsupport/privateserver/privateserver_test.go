package privateserver_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/amqpx"
	"github.com/opsflow/opsflow/internal/esclient"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/sqsclient"
	"github.com/opsflow/opsflow/internal/supervisor"
	"github.com/opsflow/opsflow/internal/testsupport/faults"
	"github.com/opsflow/opsflow/internal/testsupport/privateserver"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// A persistent message on a durable queue survives a restart of the private broker (what the
// revalidation sync's fault test relies on), and a stopped broker refuses connections.
func TestRabbitMQRestartKeepsDurableMessages(t *testing.T) {
	t.Parallel()
	r := privateserver.StartRabbitMQ(t)
	conn, err := amqpx.Dial(r.URL)
	require.NoError(t, err)
	top := amqpx.Topology{Exchange: "fm.test", Bindings: []amqpx.Binding{{Queue: "fm.test.q", RoutingKey: "k"}}}
	require.NoError(t, conn.Declare(top))
	pub, err := conn.NewPublisher()
	require.NoError(t, err)
	require.NoError(t, pub.Publish(context.Background(), "fm.test", "k", []byte(`"kept"`)))
	conn.Close()

	r.Stop()
	assert.False(t, r.Running())
	_, err = amqpx.Dial(r.URL)
	require.Error(t, err, "a stopped broker refuses connections")
	r.Start()

	conn, err = amqpx.Dial(r.URL)
	require.NoError(t, err)
	defer conn.Close()
	cons, err := conn.Consume("fm.test.q", 1)
	require.NoError(t, err)
	b, err := cons.Batch(context.Background(), 1, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, `"kept"`, string(b[0].Body))
}

// Objects stay across a restart of the private S3 server, where ObjectPath says.
func TestS3RestartKeepsObjects(t *testing.T) {
	t.Parallel()
	srv := privateserver.StartS3(t)
	c := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, s3store.EnsureBucket(ctx, c, "fm-bucket"))
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("fm-bucket"), Key: aws.String("a/b.txt"), Body: bytes.NewReader([]byte("body"))})
	require.NoError(t, err)
	srv.Restart()
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fm-bucket"), Key: aws.String("a/b.txt")})
	require.NoError(t, err)
	body, _ := io.ReadAll(got.Body)
	assert.Equal(t, "body", string(body))
	onDisk, err := os.ReadFile(srv.ObjectPath("fm-bucket", "a/b.txt"))
	require.NoError(t, err)
	assert.Equal(t, "body", string(onDisk))
}

// The private OpenSearch keeps an index's documents across a stop and start.
func TestOpenSearchRestartKeepsIndices(t *testing.T) {
	t.Parallel()
	o := privateserver.StartOpenSearch(t)
	es, err := esclient.New(o.URL)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, es.CreateIndex(ctx, "fm-index", map[string]any{"mappings": map[string]any{"properties": map[string]any{"n": map[string]any{"type": "long"}}}}))
	_, err = es.BulkIndex(ctx, "fm-index", []esclient.Doc{{ID: "1", Source: map[string]any{"n": 1}}, {ID: "2", Source: map[string]any{"n": 2}}}, esclient.WithRefresh())
	require.NoError(t, err)
	o.Stop()
	_, err = es.Count(ctx, "fm-index")
	require.Error(t, err, "a stopped node answers nothing")
	o.Start()
	// The client marked the node dead while it was down; olivere revives it on the next call
	// (health checks are off), so the first call after the restart may still fail.
	var n int64
	require.Eventually(t, func() bool { n, err = es.Count(ctx, "fm-index"); return err == nil }, 10*time.Second, 100*time.Millisecond)
	assert.Equal(t, int64(2), n)
}

// ElasticMQ keeps messages in memory: a restart loses the queue, like the stack's.
func TestElasticMQRestartLosesQueues(t *testing.T) {
	t.Parallel()
	e := privateserver.StartElasticMQ(t)
	ctx := context.Background()
	c, err := sqsclient.New(ctx, e.Endpoint, "us-east-1")
	require.NoError(t, err)
	url, err := c.EnsureQueue(ctx, "fm-queue")
	require.NoError(t, err)
	require.NoError(t, c.Send(ctx, url, `{"n":1}`))
	e.Restart()
	_, err = c.Receive(ctx, url, 1, time.Second)
	require.Error(t, err, "the queue is gone after a restart")
	assert.Contains(t, err.Error(), "QueueDoesNotExist")
}

// A supervisordtest instance stopped by Supervisord takes its programs down; started again it
// answers on the same URL and its autostart programs run again.
func TestSupervisordStopAndStartAgain(t *testing.T) {
	t.Parallel()
	inst := supervisordtest.Start(t, supervisordtest.Program{Name: "sleeper", Command: "/bin/sleep 600", AutoStart: true, StartSecs: 1})
	c, err := supervisor.New(inst.URL, inst.Username, inst.Password, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		info, err := c.ProcessInfo(ctx, "sleeper")
		return err == nil && info.StateName == "RUNNING"
	}, 20*time.Second, 100*time.Millisecond)
	before, err := c.ProcessInfo(ctx, "sleeper")
	require.NoError(t, err)

	sup := privateserver.SupervisordOf(t, inst)
	sup.Stop()
	_, err = c.State(ctx)
	require.Error(t, err, "nothing answers while supervisord is down")
	assert.NoFileExists(t, filepath.Join("/proc", strconv.Itoa(before.PID)), "its program stopped with it")
	sup.Start()
	require.Eventually(t, func() bool {
		info, err := c.ProcessInfo(ctx, "sleeper")
		return err == nil && info.StateName == "RUNNING" && info.PID != before.PID
	}, 20*time.Second, 100*time.Millisecond, "the autostart program runs again under the new supervisord")
	sup.Stop()
	sup.Start()
}

// A Link adds latency and resets to a real HTTP server's connection and clears them.
func TestLinkFaults(t *testing.T) {
	t.Parallel()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })}
	l := listen(t)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	p := faults.In(t, "http://"+l.Addr().String())
	link := privateserver.LinkOf(t, p)
	get := func() (string, time.Duration, error) {
		began := time.Now()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(p.URL + "/")
		if err != nil {
			return "", time.Since(began), err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), time.Since(began), err
	}
	link.Latency(300, 0)
	body, took, err := get()
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond)
	link.Reset()
	_, _, err = get()
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF"), "%v", err)
	link.Clear()
	body, _, err = get()
	require.NoError(t, err)
	assert.Equal(t, "ok", body)
	link.Down()
	_, _, err = get()
	require.Error(t, err)
	link.Up()
	_, _, err = get()
	require.NoError(t, err)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return l
}
