package main

import (
	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/workflows"
)

// registerImport wires the sample package import (PackageImport) on the central queue: the
// import bucket is created at start, and package names are hashed with the identifier key.
func registerImport(h *host) error {
	if h.central == nil {
		return nil
	}
	cfg := h.cfg
	s3c, err := h.S3()
	if err != nil {
		return err
	}
	if err := s3store.EnsureBucket(h.ctx, s3c, cfg.Import.Bucket); err != nil {
		return err
	}
	hasher, err := cfg.Codec.Hasher()
	if err != nil {
		return err
	}
	h.central.RegisterWorkflow(workflows.PackageImport)
	h.central.RegisterWorkflow(workflows.FilelockScan)
	h.central.RegisterActivity(&activities.ImportActivities{S3: s3c, Bucket: cfg.Import.Bucket, DurableDir: cfg.Import.DurableDir,
		Hasher: hasher, Environment: cfg.Environment})
	return nil
}
