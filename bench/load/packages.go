package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/workflows"
)

// samplePackage is the objects of one small sample package as the nsc-exporter uploads it
// (the layout of scripts/demo-package and the movers' e2e test): one FASTQ-like read and the
// <name>.sample listing it with its MD5 and size under samples/<name>/, then the manifest (every
// file with its size and SHA-256) under manifests/samples/<name>.json, which must be put last.
func samplePackage(name string, kib int, seed uint64) (files []object, manifest object, err error) {
	r := rand.New(rand.NewPCG(seed, 0x6c6f6164))
	read := make([]byte, kib<<10)
	for i := range read {
		read[i] = "ACGT"[r.IntN(4)]
	}
	copy(read, "@read1\n")
	readName := name + "_R1.fastq.gz"
	sum := md5.Sum(read)
	desc, err := json.Marshal(samplepkg.SampleFile{Name: name, Reads: []samplepkg.Read{{Path: readName, MD5: hex.EncodeToString(sum[:]), Size: int64(len(read))}}})
	if err != nil {
		return nil, object{}, err
	}
	m := samplepkg.Manifest{Kind: samplepkg.KindSample, Package: name}
	for path, body := range map[string][]byte{readName: read, samplepkg.SampleFileName(name): desc} {
		files = append(files, object{key: samplepkg.ObjectPrefix(samplepkg.KindSample, name) + path, body: body})
		sha := sha256.Sum256(body)
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: path, Size: int64(len(body)), SHA256: hex.EncodeToString(sha[:])})
	}
	data, err := m.Encode()
	if err != nil {
		return nil, object{}, err
	}
	return files, object{key: samplepkg.ManifestKey(samplepkg.KindSample, name), body: data}, nil
}

// uploadPackages puts the packages' files, then their manifests (a manifest is only ever
// seen once its package is complete), -parallel PUTs at a time.
func (d *deployment) uploadPackages(ctx context.Context, names []string) (int64, error) {
	var files, manifests []object
	for i, n := range names {
		f, m, err := samplePackage(n, d.h.o.packageKiB, uint64(i))
		if err != nil {
			return 0, err
		}
		files = append(files, f...)
		manifests = append(manifests, m)
	}
	var total int64
	for _, objs := range [][]object{files, manifests} {
		i := 0
		n, err := putAll(ctx, d.h.s3, d.importBucket, d.h.o.parallel, func() *object {
			if i == len(objs) {
				return nil
			}
			i++
			return &objs[i-1]
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// packagesScenario: -packages small sample packages uploaded to the import bucket, then
// imported concurrently: with -import-via start, one PackageImport per package started at once
// (as `opsflow import` starts it: the package's keyed hash in its id and search attributes);
// with scan, by one FilelockScan triggered through its schedule (batchSize -scan-batch). It
// waits until every run closed, and checks that each completed and each package is READY.
func (h *harness) packagesScenario(ctx context.Context) (*result, error) {
	o := h.o
	names := make([]string, o.packages)
	for i := range names {
		names[i] = fmt.Sprintf("Diag-load%d-%05d-NA%05d", h.stamp.Unix(), i, i)
	}
	watchers := []string(nil)
	if o.importVia == "scan" {
		watchers = []string{"filelock-exporter"}
	}
	d, err := h.newDeployment(ctx, "packages", o.scanBatch, watchers)
	if err != nil {
		return nil, err
	}
	defer d.close()
	res := &result{scenario: "packages", title: fmt.Sprintf("%d packages imported concurrently", o.packages),
		size: fmt.Sprintf("%d packages of %d KiB (+ .sample, manifest)", o.packages, o.packageKiB), loadBefore: loadAverage()}
	say("packages: uploading %d packages to s3://%s", o.packages, d.importBucket)
	began := time.Now()
	stored, err := d.uploadPackages(ctx, names)
	if err != nil {
		return nil, err
	}
	res.row("data generated (untimed)", "%d objects, %.1f MiB, put in %.1f s (%d PUTs in flight)",
		3*o.packages, float64(stored)/(1<<20), time.Since(began).Seconds(), o.parallel)
	if err := d.startWorker(ctx); err != nil {
		return nil, err
	}
	types := []string{"PackageImport"}
	if o.importVia == "scan" {
		types = []string{workflows.FilelockScanProcedure, "PackageImport"}
		say("packages: triggering filelock-exporter (batchSize %d)", o.scanBatch)
		id, out, secs, err := d.trigger(ctx, "filelock-exporter")
		if err != nil {
			return nil, err
		}
		res.row("trigger", "`opsflow schedules trigger filelock-exporter --wait`: %.1f s; scan %s", secs, id)
		res.row("scan result", "%s", lastLine(out))
	} else {
		say("packages: starting %d PackageImport runs", o.packages)
		secs, err := d.startImports(ctx, names)
		if err != nil {
			return nil, err
		}
		res.row("starting the runs", "%d PackageImport started in %.1f s (%d starts in flight)", o.packages, secs, o.parallel)
	}
	runs, err := h.waitClosed(ctx, envQuery(d.env, "PackageImport"), o.packages)
	if err != nil {
		return nil, err
	}
	if o.importVia == "scan" {
		scans, err := h.listRuns(ctx, envQuery(d.env, workflows.FilelockScanProcedure))
		if err != nil {
			return nil, err
		}
		runs = append(runs, scans...)
	}
	if res.usage, err = d.finish(); err != nil {
		return nil, err
	}
	res.histories = summarize(runs, types...)
	imports := res.stat("PackageImport")
	first := imports.first
	if o.importVia == "scan" {
		first = res.stat(workflows.FilelockScanProcedure).first
	}
	res.wall = imports.last.Sub(first).Seconds()
	res.wallWhat = "first run started → last PackageImport closed (server times)"
	res.row("PackageImport run time (start → close)", "median %.1f s, slowest %.1f s", imports.p50.Seconds(), imports.slowest.Seconds())
	if note := h.slowestNote(ctx, imports); note != "" {
		res.row("slow runs", "%s", note)
	}
	ready := 0
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(d.durable, string(samplepkg.KindSample), n, samplepkg.ReadyMarker)); err == nil {
			ready++
		}
	}
	if imports.statuses["Completed"] != o.packages || ready != o.packages {
		return nil, fmt.Errorf("packages: %d PackageImport runs completed (%v), %d of %d packages READY; worker log tail:\n%s",
			imports.statuses["Completed"], imports.statuses, ready, o.packages, d.worker.logTail(20))
	}
	res.check("every PackageImport completed (%d), every package READY in the durable area (%d), no run failed", o.packages, ready)
	res.loadAfter = loadAverage()
	return res, nil
}

// startImports starts one PackageImport per package like `opsflow import` does, -parallel
// starts at a time, and returns the seconds the starts took.
func (d *deployment) startImports(ctx context.Context, names []string) (float64, error) {
	hasher, err := d.h.cfg.Codec.Hasher()
	if err != nil {
		return 0, err
	}
	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, d.h.o.parallel)
	for range d.h.o.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(names); i = int(next.Add(1)) - 1 {
				id := samplepkg.KindID(hasher, samplepkg.KindSample, names[i])
				_, err := d.h.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID:                       workflows.PackageImportWorkflowID(id),
					TaskQueue:                d.taskQueue,
					WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
					WorkflowExecutionTimeout: 24 * time.Hour,
					TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ProcedureKey.ValueSet("PackageImport"),
						workflows.PackageKey.ValueSet(id), workflows.EnvironmentKey.ValueSet(d.env)),
				}, workflows.PackageImport, workflows.PackageImportInput{Package: names[i], Kind: samplepkg.KindSample, Environment: d.env})
				if err != nil {
					errs <- fmt.Errorf("start PackageImport %s: %w", workflows.PackageImportWorkflowID(id), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(began).Seconds(), nil
}
