package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/opsflow/opsflow/workflows"
)

func runProgress(args []string) error {
	fs, cfg := commandFlags("progress", false)
	id := fs.String("workflow-id", "", "workflow id of the run (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" {
		return fmt.Errorf("progress: --workflow-id is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	s, err := connect(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := queryProgress(s.ctx, s.c, *id, "")
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(p, "", "  ")
	fmt.Println(string(out))
	return nil
}

func queryProgress(ctx context.Context, c client.Client, id, runID string) (workflows.Progress, error) {
	var p workflows.Progress
	v, err := c.QueryWorkflow(ctx, id, runID, workflows.ProgressQuery)
	if err != nil {
		return p, fmt.Errorf("query progress of %s: %w", id, err)
	}
	return p, v.Get(&p)
}

func progressLine(p workflows.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step: %s", p.Step)
	names := make([]string, 0, len(p.Sites))
	for n := range p.Sites {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, " | %s: %s", n, p.Sites[n])
	}
	return b.String()
}
