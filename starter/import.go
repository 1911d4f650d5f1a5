package main

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/workflows"
)

// runImport starts PackageImport for one sample package. The workflow id and search
// attributes carry the package's keyed hash; the name itself goes only into the
// encrypted input.
func runImport(args []string) error {
	fs, cfg := commandFlags("import", true)
	pkg := fs.String("package", "", "sample package name (required; sensitive: hashed in ids and search attributes)")
	kindName := fs.String("kind", "samples", "what the package holds: samples, analyses, ella-incoming or backup")
	dryRun := fs.Bool("dry-run", false, "list what would be imported, change nothing")
	wait := fs.Bool("wait", false, "wait for the result; exit 1 if the import fails")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pkg == "" {
		return fmt.Errorf("import: --package is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	kind, err := samplepkg.ParseKind(*kindName)
	if err != nil {
		return fmt.Errorf("import: --kind: %w", err)
	}
	hasher, err := cfg.Codec.Hasher()
	if err != nil {
		return err
	}
	id := samplepkg.KindID(hasher, kind, *pkg) // the scans' PackageImport children use the same id
	wfID := workflows.PackageImportWorkflowID(id)
	if *dryRun {
		wfID += "-dry-run"
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.start(launch{
		// The name is sensitive: messages name the run by its hashed id only.
		what: "PackageImport", whatRunning: "PackageImport of this package",
		opts: client.StartWorkflowOptions{
			ID:                       wfID,
			TaskQueue:                cfg.Temporal.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowExecutionTimeout: 24 * time.Hour,
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("PackageImport"),
				workflows.PackageKey.ValueSet(id), workflows.EnvironmentKey.ValueSet(cfg.Environment)),
		},
		workflow: workflows.PackageImport, // The environment is decided here, once (workflows.RunEnvironment).
		input:    workflows.PackageImportInput{Package: *pkg, Kind: kind, DryRun: *dryRun, Environment: cfg.Environment},
		wait:     *wait, result: &workflows.PackageImportResult{}, failed: "import failed",
		report: func(r any) {
			res := r.(*workflows.PackageImportResult)
			fmt.Printf("status: COMPLETED\n  files %d, bytes %d, reads verified %d\n  dir %s\n", res.Files, res.Bytes, res.Reads, res.Dir)
			for _, p := range res.Plan {
				fmt.Println("  plan:", p)
			}
		},
	})
}
