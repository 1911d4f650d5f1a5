package privateserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitmqServer is Debian's RabbitMQ node script (the /usr/sbin wrapper switches to the
// rabbitmq user and the system node's directories; this one runs as the test's user).
const rabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// RabbitMQ is a private RabbitMQ node: its own node name, AMQP and distribution ports, Mnesia
// directory (durable queues and persistent messages survive a restart, as on a real broker),
// configuration and Erlang cookie. It shares the machine's epmd (the node-name registry) with
// the system's broker, as any second node on a host does.
type RabbitMQ struct {
	*Server
	// URL is amqp://guest:guest@127.0.0.1:<port>/ (guest may log in from loopback).
	URL string
}

// StartRabbitMQ starts a private RabbitMQ and waits until it accepts an AMQP login (a first
// boot takes 5-20 s, a restart a few seconds). The binary is $OPSFLOW_RABBITMQ_SERVER, else
// Debian's.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	bin := os.Getenv("OPSFLOW_RABBITMQ_SERVER")
	if bin == "" {
		bin = rabbitmqServer
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("privateserver: RabbitMQ's node script %s: %v: %s", bin, err, installHint)
	}
	dir := t.TempDir()
	port, dist := freePort(t), freePort(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	node := "opsflow-test-" + hex.EncodeToString(b) + "@localhost"
	files := map[string]string{
		"rabbitmq.conf":   fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\n", port),
		"enabled_plugins": "[].\n",
		"rabbitmq-env.conf": "# empty: the private node's settings are in its environment, never " +
			"the system node's /etc/rabbitmq/rabbitmq-env.conf\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home") // the Erlang cookie is made here, never in the user's home
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(baseEnv("RABBITMQ_", "ERL_", "HOME="),
		"HOME="+home,
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_NODENAME="+node,
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_LOGS=-", // to the server's log file
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbitmq.pid"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	r := &RabbitMQ{URL: fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port)}
	r.Server = newServer(t, "rabbitmq", dir, []string{bin}, env, func(ctx context.Context) error {
		c, err := amqp.DialConfig(r.URL, amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
		if err != nil {
			return err
		}
		return c.Close()
	}, 2*time.Minute, 30*time.Second)
	r.Start()
	return r
}
