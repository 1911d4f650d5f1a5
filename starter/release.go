package main

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/workflows"
)

func runRelease(args []string) error {
	fs, cfg := commandFlags("release", true)
	version := fs.String("version", "", "release tag, vX.Y.Z-rel (required)")
	sites := fs.String("sites", "", "comma-separated sites to deploy (default: every configured site)")
	force := fs.Bool("force", false, "deploy even to sites whose components did not change")
	wait := fs.Bool("wait", false, "follow the run to its end, printing progress; exit 1 if it fails")
	dryRun := fs.Bool("dry-run", false, "plan only: report what each step would do, change nothing (workflow id gets -dry-run)")
	workflowID := fs.String("workflow-id", "", "workflow id (default release-<version>)")
	timeLimit := fs.Duration("time-limit", workflows.ReleaseDeployDefaultTimeLimit,
		"the run's own limit, tag to last start; past it the step under way stops, a stopped site is rolled back and operators are notified")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := release.ParseVersion(*version); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *timeLimit < time.Minute || *timeLimit > workflows.ReleaseDeployMaxTimeLimit {
		return fmt.Errorf("--time-limit %s is outside 1m..%s", *timeLimit, workflows.ReleaseDeployMaxTimeLimit)
	}
	// The environment is decided here, once: the input carries it and the search attribute
	// shows it from the start (workflows.RunEnvironment).
	in := workflows.ReleaseDeployInput{Version: *version, Force: *force, DryRun: *dryRun, TimeLimit: timeLimit.String(),
		Environment: cfg.Environment}
	for _, s := range strings.Split(*sites, ",") {
		if s = strings.TrimSpace(s); s != "" {
			in.Sites = append(in.Sites, s)
		}
	}
	if *workflowID == "" {
		*workflowID = workflows.ReleaseDeployWorkflowID(*version)
		if *dryRun {
			*workflowID += "-dry-run"
		}
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.start(launch{
		what: "ReleaseDeploy " + *version,
		opts: client.StartWorkflowOptions{
			ID:        *workflowID,
			TaskQueue: cfg.Temporal.TaskQueue,
			// A release running under this id is followed, not started twice; a completed one
			// may be started again (it finds the tag, the artifact and the sites done).
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			// The server's limit ends a run without a rollback or a notice: it comes well after
			// the run's own time limit plus the rollback and the notice.
			WorkflowExecutionTimeout: workflows.ReleaseDeployExecutionTimeout(*timeLimit),
			TypedSearchAttributes: temporal.NewSearchAttributes(
				workflows.ProcedureKey.ValueSet("ReleaseDeploy"), workflows.VersionKey.ValueSet(*version),
				workflows.EnvironmentKey.ValueSet(cfg.Environment)),
			StaticSummary: "Release & deploy " + *version,
		},
		workflow: workflows.ReleaseDeploy, input: in,
		wait: *wait, result: &workflows.ReleaseDeployResult{},
	})
}
