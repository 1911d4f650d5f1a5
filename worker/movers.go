package main

import (
	"fmt"
	"log/slog"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/workflows"
)

// registerMovers wires the NSC side of the tsd-import data movers on the central queue: the
// nsc-exporter (NSCExportScan, PackageUpload) always, the lims-exporter (LimsExportScan,
// LimsPackageExport) when a LIMS is configured. The filelock-exporter's scan is wired with
// the import (registerImport). The scans are started by the Schedules `opsflow schedules
// apply` creates.
func registerMovers(h *host) error {
	if h.central == nil {
		return nil
	}
	cfg := h.cfg
	s3c, err := h.S3()
	if err != nil {
		return err
	}
	hasher, err := cfg.Codec.Hasher()
	if err != nil {
		return err
	}
	h.central.RegisterWorkflow(workflows.NSCExportScan)
	h.central.RegisterWorkflow(workflows.PackageUpload)
	h.central.RegisterActivity(&activities.UploadActivities{S3: s3c, Bucket: cfg.Import.Bucket, ExportDir: cfg.Movers.ExportDir,
		Hasher: hasher, Settle: cfg.Movers.Settle, PartSize: int64(cfg.Movers.PartMiB) << 20})
	queue, err := limsQueue(cfg)
	if err != nil {
		return fmt.Errorf("lims-exporter: %w", err)
	}
	if queue == nil {
		slog.Info("no LIMS configured (OPSFLOW_LIMS_QUEUE_DIR or OPSFLOW_LIMS_URL): the lims-exporter does not run here")
		return nil
	}
	h.central.RegisterWorkflow(workflows.LimsExportScan)
	h.central.RegisterWorkflow(workflows.LimsPackageExport)
	h.central.RegisterActivity(&activities.LimsActivities{Queue: queue, ExportDir: cfg.Movers.ExportDir, Hasher: hasher})
	return nil
}
