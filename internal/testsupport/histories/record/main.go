// Command record records the histories of workflows/replay_test.go on the dev Temporal server
// (see package histories and README, "Replay tests"):
//
//	go run ./internal/testsupport/histories/record -label v1 [-only revalidation_sync,...] [-force]
//
// It connects to OPSFLOW_TEMPORAL_ADDRESS (default 127.0.0.1:7233), namespace
// OPSFLOW_TEMPORAL_NAMESPACE (default "default"), runs a worker of its own on the task queue
// "opsflow-record" with the real workflows and stub activities, plays each scenario and writes
// testdata/histories/<workflow>_<label>_<scenario>.json. It never overwrites a file without
// -force, and checks every file before it runs anything.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/testsupport/histories"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

func run() error {
	label := flag.String("label", "", "code version the histories are recorded with, e.g. v1 or before_sync_time_limit (required)")
	only := flag.String("only", "", "comma-separated scenarios or workflows to record (default: all; see -list)")
	force := flag.Bool("force", false, "overwrite existing files of this label")
	dir := flag.String("dir", "testdata/histories", "directory of the recorded histories")
	list := flag.Bool("list", false, "list the scenarios and the files they write, then exit")
	address := flag.String("address", config.Env("OPSFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend (OPSFLOW_TEMPORAL_ADDRESS)")
	namespace := flag.String("namespace", config.Env("OPSFLOW_TEMPORAL_NAMESPACE", "default"), "Temporal namespace (OPSFLOW_TEMPORAL_NAMESPACE)")
	taskQueue := flag.String("task-queue", histories.DefaultTaskQueue, "the recorder's own task queue")
	flag.Parse()

	scenarios := histories.Scenarios()
	if *list {
		l := *label
		if l == "" {
			l = "<label>"
		}
		for _, s := range scenarios {
			var files []string
			for _, o := range s.Outputs {
				files = append(files, o.File(l))
			}
			fmt.Printf("%-34s %s\n%-34s -> %s\n", s.Name, s.About, "", strings.Join(files, ", "))
		}
		return nil
	}
	if *label == "" {
		return fmt.Errorf("-label is required: the code version of these histories (e.g. v1); see -list")
	}
	var names []string
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	opts := histories.Options{Dir: *dir, Label: *label, Only: names, Force: *force, TaskQueue: *taskQueue, Log: os.Stdout}
	// Check the label and the files before connecting: a refused overwrite runs nothing.
	if _, _, err := histories.Plan(opts, scenarios); err != nil {
		return err
	}

	// The SDK's default data converter: plain JSON payloads, readable without a key.
	c, err := client.Dial(client.Options{HostPort: *address, Namespace: *namespace,
		Logger: sdklog.NewStructuredLogger(quietLogger())})
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (namespace %s; is the stack up? scripts/stack status): %w", *address, *namespace, err)
	}
	defer c.Close()
	opts.Client = c

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	fmt.Printf("recording label %s on %s (namespace %s, task queue %s) into %s\n", *label, *address, *namespace, *taskQueue, *dir)
	written, err := histories.Record(ctx, opts, scenarios)
	if err != nil {
		return err
	}
	fmt.Printf("%d histories written; check them with: go test -count=1 -run Replay -v ./workflows\n", len(written))
	return nil
}

// quietLogger keeps the SDK's warnings and errors (on stderr) and drops its info lines.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
