package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/samplepkg"
)

// packageName is the generated sample package's name.
const packageName = "Bench-copy-NA12878"

// opsflow stages and verifies a generated package as PackageImport does, in a durable area
// under the variant's copy directory.
type opsflow struct {
	acts *activities.ImportActivities
	env  *testsuite.TestActivityEnvironment
	conc int
}

func newOpsflow(conc int) (*opsflow, error) {
	h, err := ident.NewHasher([]byte("bench-identifier-key"), true)
	if err != nil {
		return nil, err
	}
	a := &activities.ImportActivities{Hasher: h, CopyConcurrency: conc}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return &opsflow{acts: a, env: env, conc: conc}, nil
}

// staging is the package's staging directory in the durable area dst.
func (o *opsflow) staging(dst string) (string, string) {
	id := samplepkg.KindID(o.acts.Hasher, samplepkg.KindSample, packageName)
	return id, samplepkg.Layout{Durable: dst}.StagingDir(id)
}

// stage is FetchPackage's local half on every file of src: activities.StageObjects with an
// opener reading the source file from the offset (where FetchPackage does a ranged GET).
func (o *opsflow) stage(src source, dst string) error {
	_, staging := o.staging(dst)
	objs := make([]activities.StageObject, len(src.files))
	for i, f := range src.files {
		objs[i] = activities.StageObject{Key: f.name, Name: filepath.Join(src.dir, f.name), Path: f.name,
			Dest: filepath.Join(staging, f.name), Size: f.size}
	}
	open := func(_ context.Context, obj activities.StageObject, offset int64) (io.ReadCloser, error) {
		f, err := os.Open(obj.Name)
		if err != nil {
			return nil, err
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	_, err := activities.StageObjects(context.Background(), objs, open, activities.StageOptions{
		Algorithms:  []string{checksum.SHA256, checksum.MD5},
		Concurrency: o.conc,
		DigestsFile: activities.StagingDigestsFile(staging),
	})
	return err
}

// verify runs VerifyPackage on the staged package against a manifest of src (as the
// nsc-exporter writes it) and its .sample.
func (o *opsflow) verify(src source, dst string) error {
	id, staging := o.staging(dst)
	o.acts.DurableDir = dst
	m := samplepkg.Manifest{Kind: samplepkg.KindSample, Package: packageName}
	for _, f := range src.files {
		m.Files = append(m.Files, samplepkg.ManifestFile{Path: f.name, Size: f.size, SHA256: f.sha256})
	}
	staged := activities.FetchResult{PackageID: id, StagingDir: staging, Files: src.names(), Manifest: &m}
	v, err := o.env.ExecuteActivity(o.acts.VerifyPackage, activities.ImportInput{Package: packageName}, staged)
	if err != nil {
		return err
	}
	var res activities.VerifyResult
	if err := v.Get(&res); err != nil {
		return err
	}
	if res.Reads != len(src.files)-1 || res.Files != len(src.files) {
		return fmt.Errorf("VerifyPackage checked %d reads and %d files, want %d and %d", res.Reads, res.Files, len(src.files)-1, len(src.files))
	}
	return nil
}

// hashRates are MD5's and SHA-256's single-core throughput in MB/s, in memory.
type hashRates struct{ md5, sha256 float64 }

func measureHashes() hashRates {
	buf := make([]byte, 1<<20)
	rate := func(h hash.Hash) float64 {
		start := time.Now()
		for range 512 {
			h.Write(buf)
		}
		return mbps(512<<20, time.Since(start))
	}
	return hashRates{md5: rate(md5.New()), sha256: rate(sha256.New())}
}
