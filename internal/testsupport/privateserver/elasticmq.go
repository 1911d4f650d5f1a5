package privateserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ElasticMQ is a private SQS server started like the stack's (the resolved ElasticMQ jars) with
// its own configuration and port. Like the stack's it keeps queues and messages in memory:
// a stop loses them, as a restart of the stack's would.
type ElasticMQ struct {
	*Server
	// Endpoint is http://127.0.0.1:<port>, for OPSFLOW_SQS_ENDPOINT.
	Endpoint string
}

// StartElasticMQ starts a private ElasticMQ and waits until it answers ListQueues.
func StartElasticMQ(t testing.TB) *ElasticMQ {
	t.Helper()
	java, jars := javaBinary(t), jarsDir(t, "elasticmq")
	dir := t.TempDir()
	port := freePort(t)
	// The stack's scripts/elasticmq/elasticmq.conf with this server's port.
	conf := fmt.Sprintf(`include classpath("application.conf")
node-address {
  protocol = http
  host = 127.0.0.1
  port = %d
  context-path = ""
}
rest-sqs {
  enabled = true
  bind-port = %d
  bind-hostname = "127.0.0.1"
  sqs-limits = strict
}
rest-stats {
  enabled = false
}
aws {
  region = us-east-1
  accountId = 000000000000
}
`, port, port)
	confPath := filepath.Join(dir, "elasticmq.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &ElasticMQ{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	argv := []string{java, "-Xms64m", "-Xmx256m", "-Djava.io.tmpdir=" + dir, "-Dconfig.file=" + confPath,
		"-cp", jars + "/*", "org.elasticmq.server.Main"}
	e.Server = newServer(t, "elasticmq", dir, argv, baseEnv("JAVA_TOOL_OPTIONS="), e.ready, 2*time.Minute, 20*time.Second)
	e.Start()
	return e
}

// ready: ListQueues (SQS's JSON protocol, as aws-sdk-go-v2 speaks it) answers with QueueUrls.
func (e *ElasticMQ) ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Endpoint+"/", bytes.NewReader([]byte("{}")))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "QueueUrls") {
		return fmt.Errorf("ListQueues answered HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}
