package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/temporalx"
	"github.com/opsflow/opsflow/workflows"
)

// runImport starts PackageImport for one sample package. The workflow id and search
// attributes carry the package's keyed hash; the name itself goes only into the
// encrypted input.
func runImport(args []string) error {
	cfg := config.Default()
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	cfg.Register(fs)
	pkg := fs.String("package", "", "sample package name (required; sensitive: hashed in ids and search attributes)")
	dryRun := fs.Bool("dry-run", false, "list what would be imported, change nothing")
	wait := fs.Bool("wait", false, "wait for the result; exit 1 if the import fails")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pkg == "" {
		return fmt.Errorf("import: --package is required")
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	hasher, err := ident.NewHasher([]byte(cfg.Codec.IdentifierKey), cfg.Codec.IdentifiersSensitive)
	if err != nil {
		return err
	}
	id := hasher.ID("package", *pkg)
	wfID := workflows.PackageImportWorkflowID(id)
	if *dryRun {
		wfID += "-dry-run"
	}
	c, err := temporalx.Dial(cfg, temporalx.NewLogger("warn"))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	run, already, err := startOrJoin(ctx, c, client.StartWorkflowOptions{
		ID:                       wfID,
		TaskQueue:                cfg.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionTimeout: 24 * time.Hour,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("PackageImport"),
			workflows.PackageKey.ValueSet(id), workflows.EnvironmentKey.ValueSet(cfg.Environment)),
	}, workflows.PackageImport, workflows.PackageImportInput{Package: *pkg, DryRun: *dryRun})
	if err != nil {
		return fmt.Errorf("start PackageImport: %w", err)
	}
	// The name is sensitive: the message names the run by its hashed id only.
	what := "PackageImport"
	if already {
		what = "PackageImport of this package"
	}
	printRun(cfg, what, run, already, *wait)
	if !*wait {
		return nil
	}
	var res workflows.PackageImportResult
	if err := run.Get(ctx, &res); err != nil {
		fmt.Printf("status: FAILED\n%v\n", err)
		return fmt.Errorf("import failed")
	}
	fmt.Printf("status: COMPLETED\n  files %d, bytes %d, reads verified %d\n  dir %s\n", res.Files, res.Bytes, res.Reads, res.Dir)
	for _, p := range res.Plan {
		fmt.Println("  plan:", p)
	}
	return nil
}
