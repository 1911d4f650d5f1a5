package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/workflows"
)

// scanObjects is what the scan scenario puts under manifests/: which keys are new packages,
// which are noise, which are packages already imported.
type scanObjects struct {
	newNames, published, noise []string
}

// planScan spreads -scan-new new packages and the noise evenly among -objects keys, in key
// order, so every page of the listing looks alike; the rest are packages already imported.
func (h *harness) planScan() scanObjects {
	o := h.o
	var p scanObjects
	step := 0
	if o.scanNew > 0 {
		step = o.objects / o.scanNew
	}
	noiseEvery := 0
	if o.scanNoise > 0 {
		noiseEvery = int(1 / o.scanNoise)
	}
	for i := range o.objects {
		name := fmt.Sprintf("Diag-scan%d-%06d-NA%06d", h.stamp.Unix(), i, i)
		switch {
		case step > 0 && i%step == step/2 && len(p.newNames) < o.scanNew:
			p.newNames = append(p.newNames, name)
		case noiseEvery > 0 && i%noiseEvery == 0:
			p.noise = append(p.noise, name)
		default:
			p.published = append(p.published, name)
		}
	}
	return p
}

// scanScenario: one FilelockScan over -objects keys under manifests/ (the scan's prefix), put
// with fast parallel PUTs of tiny objects: manifests of packages already published in the
// durable area (the listing counts them and starts nothing), keys that name no package (an
// upload's leftover .part; the listing refuses them), and -scan-new new packages, which the
// scan imports. The scan is triggered through its schedule like an operator's `opsflow
// schedules trigger filelock-exporter --wait`; its continue-as-new runs are listed by workflow id.
func (h *harness) scanScenario(ctx context.Context) (*result, error) {
	o := h.o
	d, err := h.newDeployment(ctx, "scan", o.scanBatch, []string{"filelock-exporter"})
	if err != nil {
		return nil, err
	}
	defer d.close()
	res := &result{scenario: "scan", title: fmt.Sprintf("a schedule scan over %d objects", o.objects), loadBefore: loadAverage()}
	plan := h.planScan()
	batch := o.scanBatch
	if batch == 0 {
		batch = 25
	}
	res.size = fmt.Sprintf("%d objects under manifests/: %d imported already, %d noise, %d new packages; batchSize %d",
		o.objects, len(plan.published), len(plan.noise), len(plan.newNames), batch)
	say("scan: %s", res.size)
	began := time.Now()
	for _, n := range plan.published {
		if err := os.MkdirAll(filepath.Join(d.durable, string(samplepkg.KindSample), n), 0o755); err != nil {
			return nil, err
		}
	}
	if _, err := d.uploadPackages(ctx, plan.newNames); err != nil {
		return nil, err
	}
	i, noise := 0, 0
	stored, err := putAll(ctx, h.s3, d.importBucket, o.parallel, func() *object {
		switch {
		case i < len(plan.published):
			i++
			return &object{key: samplepkg.ManifestKey(samplepkg.KindSample, plan.published[i-1]), body: []byte("{}")}
		case noise < len(plan.noise):
			noise++ // an upload's leftover: not <name>.json, so no manifest key
			return &object{key: samplepkg.ManifestKey(samplepkg.KindSample, plan.noise[noise-1]) + ".part"}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	gen := time.Since(began).Seconds()
	res.row("data generated (untimed)", "%d objects (%d tiny manifests and noise keys, %.1f KiB; %d new packages) and %d published directories in %.1f s, %.0f PUTs/s (%d in flight)",
		o.objects+2*len(plan.newNames), len(plan.published)+len(plan.noise), float64(stored)/1024, len(plan.newNames), len(plan.published), gen,
		float64(o.objects+2*len(plan.newNames))/gen, o.parallel)
	if err := d.startWorker(ctx); err != nil {
		return nil, err
	}
	say("scan: triggering filelock-exporter")
	id, _, secs, err := d.trigger(ctx, "filelock-exporter")
	if err != nil {
		return nil, err
	}
	res.row("trigger", "`opsflow schedules trigger filelock-exporter --wait`: %.1f s; scan %s", secs, id)
	var totals workflows.WatcherScanResult
	if err := h.c.GetWorkflow(ctx, id, "").Get(ctx, &totals); err != nil {
		return nil, fmt.Errorf("scan %s: %w", id, err)
	}
	t := totals.Totals
	scans, err := h.waitClosed(ctx, fmt.Sprintf("WorkflowId = %q", id), t.Runs)
	if err != nil {
		return nil, err
	}
	imports, err := h.waitClosed(ctx, envQuery(d.env, "PackageImport"), len(plan.newNames))
	if err != nil {
		return nil, err
	}
	if res.usage, err = d.finish(); err != nil {
		return nil, err
	}
	res.histories = summarize(append(scans, imports...), workflows.FilelockScanProcedure, "PackageImport")
	s := res.stat(workflows.FilelockScanProcedure)
	res.wall = s.last.Sub(s.first).Seconds()
	res.wallWhat = "the scan's first run started → its last run closed (server times)"
	res.row("scan result", "found %d, started %d, succeeded %d, failed %d, already started %d, runs %d, skipped %v",
		t.Found, t.Started, t.Succeeded, t.Failed, t.AlreadyStarted, t.Runs, t.Skipped)
	pages := (o.objects + batch - 1) / batch
	res.row("listing", "%d pages of %d keys (one ListImportCandidates activity each), %.0f keys/s over the scan", pages, batch, float64(o.objects)/res.wall)
	ready := 0
	for _, n := range plan.newNames {
		if _, err := os.Stat(filepath.Join(d.durable, string(samplepkg.KindSample), n, samplepkg.ReadyMarker)); err == nil {
			ready++
		}
	}
	switch {
	case s.runs != t.Runs:
		return nil, fmt.Errorf("scan %s: %d runs listed, its totals say %d", id, s.runs, t.Runs)
	case t.Found != len(plan.newNames) || t.Succeeded != len(plan.newNames) || t.Failed != 0 || ready != len(plan.newNames):
		return nil, fmt.Errorf("scan %s: found %d, succeeded %d, failed %d, %d READY; want %d new packages imported", id, t.Found, t.Succeeded, t.Failed, ready, len(plan.newNames))
	case t.Skipped["published"] != len(plan.published) || t.Skipped["refused-manifest-key"] != len(plan.noise):
		return nil, fmt.Errorf("scan %s: skipped %v; want published %d, refused-manifest-key %d", id, t.Skipped, len(plan.published), len(plan.noise))
	}
	res.check("the scan listed every key once: %d published, %d refused, %d found", len(plan.published), len(plan.noise), t.Found)
	res.check("it imported the %d new packages (each READY) and no other; %d runs, as many as its totals count", ready, s.runs)
	res.loadAfter = loadAverage()
	return res, nil
}
