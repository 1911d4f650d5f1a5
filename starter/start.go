package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/temporalx"
)

// commandFlags makes a subcommand's flag set with the client settings on it (Temporal,
// codec keys, identifier hashing) and, for the subcommands that start runs, --environment
// and --env. The subcommand adds its own flags, then calls parse.
func commandFlags(name string, withEnvironment bool) (*flag.FlagSet, *config.Client) {
	cfg := config.DefaultClient()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg.Register(fs)
	if withEnvironment {
		cfg.RegisterEnvironment(fs)
	}
	return fs, &cfg
}

// parse parses the subcommand's arguments and checks the client settings.
func parse(fs *flag.FlagSet, cfg *config.Client, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	return cfg.Validate()
}

// session is a subcommand's connection to Temporal, with a context Ctrl-C cancels.
type session struct {
	ctx  context.Context
	c    client.Client
	cfg  config.Client
	stop func()
}

func connect(cfg *config.Client) (*session, error) {
	c, err := temporalx.Dial(*cfg, temporalx.NewLogger("warn"))
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	return &session{ctx: ctx, c: c, cfg: *cfg, stop: func() { stop(); c.Close() }}, nil
}

func (s *session) Close() { s.stop() }

// launch is one run to start: what it is called in messages, its options, workflow and
// input, whether to follow it, and how to print its result (default: the progress query's
// changes, then the result as JSON).
type launch struct {
	what, whatRunning string
	opts              client.StartWorkflowOptions
	workflow, input   any
	wait              bool
	result            any
	report            func(result any)
	failed            string // the error after a failed run (default "run failed")
}

// start starts the run, or finds the one already in flight under its id (see startOrJoin),
// prints its ids and Web UI link and, with wait, follows it to its end.
func (s *session) start(l launch) error {
	run, already, err := startOrJoin(s.ctx, s.c, l.opts, l.workflow, l.input)
	if err != nil {
		return fmt.Errorf("start %s: %w", l.what, err)
	}
	what := l.what
	if already && l.whatRunning != "" {
		what = l.whatRunning
	}
	printRun(s.cfg, what, run, already, l.wait)
	if !l.wait {
		return nil
	}
	if l.report == nil {
		return follow(s.ctx, s.c, run, l.result)
	}
	if err := run.Get(s.ctx, l.result); err != nil {
		fmt.Printf("status: FAILED\n%v\n", err)
		if l.failed == "" {
			l.failed = "run failed"
		}
		return errors.New(l.failed)
	}
	l.report(l.result)
	return nil
}

// startOrJoin starts a workflow, or finds the run already in flight under the same id. By
// default the SDK hands back the running run as if it had just been started; here the
// server's refusal is asked for, so the caller can say which it was. A closed run's id is
// reused as opts.WorkflowIDReusePolicy allows (a release started again after it completed
// starts a new, idempotent run).
func startOrJoin(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, bool, error) {
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	run, err := c.ExecuteWorkflow(ctx, opts, workflow, args...)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return c.GetWorkflow(ctx, opts.ID, started.RunId), true, nil
	}
	return run, false, err
}

// printRun says whether the run was started now or was already running, with its ids and
// Web UI link.
func printRun(cfg config.Client, what string, run client.WorkflowRun, already, wait bool) {
	switch {
	case !already:
		fmt.Printf("started %s\n", what)
	case wait:
		fmt.Printf("%s is already running; not starting another, following it\n", what)
	default:
		fmt.Printf("%s is already running; not starting another (add --wait to follow it)\n", what)
	}
	fmt.Printf("  workflow id: %s\n  run id:      %s\n  web UI:      %s\n",
		run.GetID(), run.GetRunID(), cfg.WorkflowURL(run.GetID(), run.GetRunID()))
}

// follow prints each change of the progress query until the run ends, then its result.
func follow(ctx context.Context, c client.Client, run client.WorkflowRun, result any) error {
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, result) }()
	last := ""
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				fmt.Printf("status: FAILED\n%v\n", err)
				return errors.New("run failed")
			}
			out, _ := json.MarshalIndent(result, "", "  ")
			fmt.Printf("status: COMPLETED\n%s\n", out)
			return nil
		case <-tick.C:
			p, err := queryProgress(ctx, c, run.GetID(), run.GetRunID())
			if err != nil {
				continue // the first workflow task may not have run yet
			}
			if line := progressLine(p); line != last {
				fmt.Println(line)
				last = line
			}
		}
	}
}
