package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/workflows"
)

const ellaUsage = `usage: opsflow ella <command> [flags]

commands:
  deploy    deploy a new ELLA release: pre-flight, e-mails, broadcast, stop, backup, switch,
            migrate, start, then wait for the testers' decision; rolled back if rejected (EllaDeploy)
  decide    approve or reject the acceptance test of a running deploy (the "acceptance" Update)
  status    print a deploy's outcome, acceptance gate and steps; --record writes its change record
  failover  stop ELLA on one host's task queue, then start it on another's (EllaFailover)

Run "opsflow ella <command> -h" for the flags of a command.
`

// runElla dispatches `opsflow ella <command>`.
func runElla(args []string) error {
	err := runEllaCommand(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the command printed its flags
	}
	return err
}

func runEllaCommand(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, ellaUsage)
		return errors.New("ella: give deploy, decide, status or failover")
	}
	switch args[0] {
	case "deploy":
		return runEllaDeploy(args[1:])
	case "decide":
		return runEllaDecide(args[1:])
	case "status":
		return runEllaStatus(args[1:])
	case "failover":
		return runEllaFailover(args[1:])
	case "-h", "--help", "help":
		fmt.Print(ellaUsage)
		return nil
	}
	return fmt.Errorf("ella: unknown command %q (deploy, decide, status, failover)", args[0])
}

// ellaDeployWorkflowID is a deploy's workflow id: one deploy per version runs at a time.
func ellaDeployWorkflowID(version string) string { return "ella-deploy-" + version }

// ellaFlags makes an `opsflow ella` command's flag set, whose -h starts with its synopsis.
func ellaFlags(name, synopsis string, withEnvironment bool) (*flag.FlagSet, *config.Client) {
	fs, cfg := commandFlags("ella "+name, withEnvironment)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: opsflow ella %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs, cfg
}

// ellaRecipients is the recipients file: who hears about the window and the outcome (users)
// and who runs the acceptance test (testers).
type ellaRecipients struct {
	Users   []string `json:"users"`
	Testers []string `json:"testers"`
}

func loadEllaRecipients(path string) (ellaRecipients, error) {
	var r ellaRecipients
	data, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("recipients file: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf(`recipients file %s: %w (want {"users": [...], "testers": [...]})`, path, err)
	}
	return r, nil
}

func runEllaDeploy(args []string) error {
	fs, cfg := ellaFlags("deploy", "--version V --image NAME.sif --sha256 HEX --window TEXT [--recipients FILE | --users ... --testers ...] [flags]", true)
	var in ella.DeployInput
	fs.StringVar(&in.Version, "version", "", "release tag, e.g. v1.17.2 (required)")
	fs.StringVar(&in.Image, "image", "", "image file name under <ella-dir>/"+ella.ReleasesDir+", e.g. ella-release-v1.17.2.sif (required)")
	fs.StringVar(&in.SHA256, "sha256", "", "the image's expected sha256, 64 lower-case hex digits (required)")
	fs.StringVar(&in.Window, "window", "", `planned downtime as told to users, e.g. "tirsdag 1. desember 16-18" (required)`)
	users := fs.String("users", "", "comma list of e-mail addresses told about the window and the outcome (overrides the file's users)")
	testers := fs.String("testers", "", "comma list of e-mail addresses that run the acceptance test (overrides the file's testers)")
	recipients := fs.String("recipients", config.Env("OPSFLOW_ELLA_RECIPIENTS", ""),
		`JSON file {"users": [...], "testers": [...]} (env OPSFLOW_ELLA_RECIPIENTS)`)
	fs.StringVar(&in.UserGroups, "user-groups", "", "user groups config file to load (users add_groups), a name from the worker's --ella-configs")
	fs.StringVar(&in.FilterConfigs, "filter-configs", "", "filter configs file to load (filterconfigs update), a name from the worker's --ella-configs")
	fs.StringVar(&in.AcceptanceWithin, "acceptance-within", "", "how long the testers have once told to start (default 48h)")
	fs.StringVar(&in.RemindEvery, "remind-every", "", "how often testers are reminded while no decision came (default 8h)")
	fs.StringVar(&in.Change, "change", "", "what the change is and why, for the change record")
	fs.StringVar(&in.DowntimeMessage, "message", "", "downtime broadcast shown in ELLA (default: a Norwegian notice with the version and window)")
	fs.StringVar(&in.TaskQueue, "host-queue", config.Env("OPSFLOW_ELLA_TASK_QUEUE", config.DefaultEllaTaskQueue),
		"task queue of the ELLA host's worker (env OPSFLOW_ELLA_TASK_QUEUE)")
	workflowID := fs.String("workflow-id", "", "workflow id (default ella-deploy-<version>)")
	waitGate := fs.Bool("wait-gate", false, "print the steps as they finish until the acceptance gate opens (or the run ends)")
	wait := fs.Bool("wait", false, "follow the run to its end, print its steps, outcome and change record; exit 1 if it fails")
	record := fs.String("record", "", "with --wait: write the change record (Markdown) to this file instead of printing it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := fillEllaRecipients(&in, *recipients, *users, *testers); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return fmt.Errorf("ella deploy: input refused, nothing started:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *workflowID == "" {
		*workflowID = ellaDeployWorkflowID(in.Version)
	}
	within, _, _ := in.Windows() // checked by Validate
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	opts := client.StartWorkflowOptions{
		ID:        *workflowID,
		TaskQueue: cfg.Temporal.TaskQueue,
		// A deploy running under this id is followed, not started twice.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The run's own deadline (the acceptance window, then the rollback) always comes first:
		// the server's limit ending a run mid-rollback would leave ELLA down unannounced.
		WorkflowExecutionTimeout: within + 48*time.Hour,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("EllaDeploy"),
			workflows.VersionKey.ValueSet(in.Version), workflows.EnvironmentKey.ValueSet(cfg.Environment)),
		StaticSummary: "ELLA deploy " + in.Version,
	}
	run, already, err := startOrJoin(s.ctx, s.c, opts, workflows.EllaDeploy, in)
	if err != nil {
		return fmt.Errorf("start EllaDeploy %s: %w", in.Version, err)
	}
	printRun(s.cfg, "EllaDeploy "+in.Version+" (ELLA host queue "+in.TaskQueue+")", run, already, *wait || *waitGate)
	if !*wait && !*waitGate {
		printDecideCommands(s.cfg, run.GetID())
		return nil
	}
	f := newDeployFollower(s, run)
	if *waitGate {
		if err := f.untilGate(); err != nil || f.ended || !*wait {
			return err
		}
	}
	return f.toEnd(*record)
}

// fillEllaRecipients takes users and testers from the recipients file, each replaced by its
// flag when given.
func fillEllaRecipients(in *ella.DeployInput, file, users, testers string) error {
	if file != "" {
		r, err := loadEllaRecipients(file)
		if err != nil {
			return err
		}
		in.Users, in.Testers = r.Users, r.Testers
	}
	if users != "" {
		in.Users = splitComma(users)
	}
	if testers != "" {
		in.Testers = splitComma(testers)
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// printDecideCommands shows how to approve the deploy once the testers are done, with the
// plain Temporal CLI and with opsflow.
func printDecideCommands(cfg config.Client, id string) {
	ns := ""
	if cfg.Temporal.Namespace != "default" {
		ns = " --namespace " + cfg.Temporal.Namespace
	}
	fmt.Printf("approve once the testers are done (reject: \"approved\":false, or --reject):\n"+
		"  temporal workflow update execute --workflow-id %s%s --name %s --input '{\"approved\":true,\"by\":\"<your name>\",\"comment\":\"...\"}'\n"+
		"  opsflow ella decide --workflow-id %s --approve --by \"<your name>\" --comment \"...\"\n",
		id, ns, ella.AcceptanceUpdate, id)
	fmt.Println("  (the Temporal CLI shows the deploy's encrypted answer with --codec-endpoint \"$OPSFLOW_CODEC_URL\" " +
		"--codec-auth \"Bearer $(cat \"$OPSFLOW_CODEC_TOKEN_FILE\")\"; without them the decision is still taken)")
}
