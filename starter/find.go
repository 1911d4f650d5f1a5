package main

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/opsflow/opsflow/internal/samplepkg"
)

// runFind lists runs by the questions operators ask; sample and package names are hashed
// the way workflows store them, so the name never leaves this process in clear.
func runFind(args []string) error {
	fs, cfg := commandFlags("find", false)
	// find searches every environment unless --env / --environment is given: not
	// OPSFLOW_ENVIRONMENT's.
	var env string
	fs.StringVar(&env, "environment", "", "only runs of this environment (default: every environment)")
	fs.StringVar(&env, "env", "", "short for --environment")
	procedure := fs.String("procedure", "", "procedure, e.g. ReleaseDeploy")
	version := fs.String("version", "", "release version, e.g. v1.4.0-rel")
	sample := fs.String("sample", "", "sample name (hashed before the query)")
	pkg := fs.String("package", "", "sample package name (hashed before the query)")
	outcome := fs.String("outcome", "", "running, succeeded, failed, rolled-back, left-stopped")
	since := fs.Duration("since", 0, "only runs started within this duration, e.g. 168h")
	printQuery := fs.Bool("print-query", false, "print the visibility query and exit (for temporal workflow list --query)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	hasher, err := cfg.Codec.Hasher()
	if err != nil {
		return err
	}
	var conds []string
	add := func(key, value string) {
		if value != "" {
			conds = append(conds, fmt.Sprintf("%s = %q", key, value))
		}
	}
	add("OpsflowProcedure", *procedure)
	add("OpsflowVersion", *version)
	add("OpsflowOutcome", *outcome)
	add("OpsflowEnvironment", env)
	if *sample != "" {
		add("OpsflowPackage", samplepkg.ID(hasher, *sample))
	}
	if *pkg != "" {
		add("OpsflowPackage", samplepkg.ID(hasher, *pkg))
	}
	if *since > 0 {
		conds = append(conds, fmt.Sprintf("StartTime > %q", time.Now().Add(-*since).UTC().Format(time.RFC3339)))
	}
	if len(conds) == 0 {
		return fmt.Errorf("find: give at least one of --procedure, --version, --sample, --package, --outcome, --env, --since")
	}
	query := strings.Join(conds, " AND ")
	if *printQuery {
		fmt.Println(query)
		return nil
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	resp, err := s.c.ListWorkflow(s.ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return fmt.Errorf("list %s: %w", query, err)
	}
	fmt.Printf("query: %s\n", query)
	for _, e := range resp.Executions {
		fmt.Printf("%-40s %-12s %s  %s\n", e.Execution.WorkflowId, strings.TrimPrefix(e.Status.String(), "WORKFLOW_EXECUTION_STATUS_"),
			e.StartTime.AsTime().UTC().Format(time.RFC3339), cfg.WorkflowURL(e.Execution.WorkflowId, e.Execution.RunId))
	}
	fmt.Printf("%d run(s)\n", len(resp.Executions))
	return nil
}
