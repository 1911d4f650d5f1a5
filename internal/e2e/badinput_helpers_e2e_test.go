//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/ident"
	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/internal/testsupport/searchtest"
)

// badInputDeployment is the one deployment the corpus runs on: a Bridge deployment (its
// buckets, queues and schedules), with the lims-exporter's directory queue and export area and
// the search engine added, and one worker for every procedure.
type badInputDeployment struct {
	*bridgeDeployment
	queueDir, exportDir, durable string
	hasher                       *ident.Hasher
	report                       *corpusReport
}

func newBadInputDeployment(t *testing.T) *badInputDeployment {
	b := &badInputDeployment{bridgeDeployment: newBridgeDeployment(t), report: &corpusReport{rows: map[string]*reportRow{}, groups: map[string]bool{}}}
	d := b.deployment
	b.queueDir, b.exportDir, b.durable = filepath.Join(d.dir, "lims-queue"), filepath.Join(d.dir, "nsc-export"), filepath.Join(d.dir, "durable")
	require.NoError(t, os.MkdirAll(b.queueDir, 0o755))
	d.env = append(d.env, "OPSFLOW_LIMS_QUEUE_DIR="+b.queueDir, "OPSFLOW_EXPORT_DIR="+b.exportDir, "OPSFLOW_EXPORT_SETTLE=1s",
		"OPSFLOW_ES_URL="+searchtest.URL(t), "OPSFLOW_SQS_VISIBILITY=5s")
	cfg := config.DefaultClient()
	cfg.Codec.IdentifierKey = os.Getenv("OPSFLOW_IDENTIFIER_KEY")
	var err error
	b.hasher, err = cfg.Codec.Hasher()
	require.NoError(t, err, "OPSFLOW_IDENTIFIER_KEY comes from scripts/stack env")
	d.startWorker()
	ctx := waitCtx(t, time.Minute)
	require.Eventually(t, func() bool { // the worker creates the import bucket at start
		_, err := b.s3.HeadBucket(ctx, headBucket(d.importBucket))
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	return b
}

// errorTypes lists the ApplicationError types along err's chain, outermost first: a run's
// type, then the types it wraps (the failed step's).
func errorTypes(err error) []string {
	var out []string
	for e := err; e != nil; e = errors.Unwrap(e) {
		if app, ok := e.(*temporal.ApplicationError); ok {
			out = append(out, app.Type())
		}
	}
	return out
}

// refused checks a run failed with the case's Expect as its ApplicationError type (the first
// of the chain) and, when the case has a Cause, that type under it; the report records it.
func (b *badInputDeployment) refused(t *testing.T, c badinput.Case, err error, what string) bool {
	t.Helper()
	types := errorTypes(err)
	observed := "accepted (the run succeeded)"
	if err != nil {
		observed = "not an application error"
	}
	if len(types) > 0 {
		observed = types[0]
		if c.Cause != "" && slices.Contains(types[1:], c.Cause) {
			observed += " ← " + c.Cause
		}
	}
	ok := assert.Error(t, err, "%s: the run succeeded; the bad input was accepted", what) &&
		assert.NotEmpty(t, types, "%s: not an application error: %v", what, err) &&
		assert.Equal(t, c.Expect, types[0], "%s: error types %v: %v", what, types, err)
	if ok && c.Cause != "" {
		ok = assert.Contains(t, types[1:], c.Cause, "%s: error types %v: %v", what, types, err)
	}
	b.report.add(c, observed, ok)
	return ok
}

// runErr waits for the run's end and returns its failure (nil when it succeeded).
func (d *deployment) runErr(t *testing.T, id string, timeout time.Duration) error {
	t.Helper()
	ctx := waitCtx(t, timeout)
	return d.client.GetWorkflow(ctx, id, "").Get(ctx, nil)
}

// assertNoRun checks no workflow with id was ever started.
func (d *deployment) assertNoRun(t *testing.T, id, what string) {
	t.Helper()
	_, err := d.client.DescribeWorkflowExecution(waitCtx(t, 10*time.Second), id, "")
	assert.Error(t, err, "%s: a run %s was started", what, id)
}

var workflowIDLine = regexp.MustCompile(`workflow id:\s*(\S+)`)

// startedID is the workflow id the starter printed, or "".
func startedID(out string) string {
	if m := workflowIDLine.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// tree is a snapshot of a directory: every entry's type, size, mode, link target and, for
// small files, content hash, by relative path.
type tree map[string]string

func snapshotTree(t *testing.T, dir string, skip func(rel string) bool) tree {
	t.Helper()
	out := tree{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(rel) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		desc := fmt.Sprintf("%s %d", info.Mode(), info.Size())
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case info.Mode().IsRegular() && info.Size() <= 1<<20:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:8])
		}
		out[rel] = desc
		return nil
	})
	require.NoError(t, err)
	return out
}

// diff says what after added, removed and changed against before.
func (before tree) diff(after tree) (added, removed, changed []string) {
	for p, v := range after {
		if w, ok := before[p]; !ok {
			added = append(added, p)
		} else if w != v {
			changed = append(changed, p+": "+w+" => "+v)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			removed = append(removed, p)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	return added, removed, changed
}

// objects is a snapshot of a bucket (under a prefix): each object's ETag and size by key.
func objects(t *testing.T, c *s3.Client, bucket, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err, "list s3://%s/%s", bucket, prefix)
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = fmt.Sprintf("%s %d", aws.ToString(o.ETag), aws.ToInt64(o.Size))
		}
	}
	return out
}

// assertSameObjects checks a bucket holds exactly what it held, plus the keys put by the test.
func assertSameObjects(t *testing.T, before, after map[string]string, put map[string]bool, what string) {
	t.Helper()
	for k, v := range before {
		assert.Equal(t, v, after[k], "%s: s3 object %s was changed or deleted", what, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok && !put[k] {
			assert.Fail(t, "object written", "%s: s3 object %s was written", what, k)
		}
	}
}

// token is a short unique part of names, so runs (workflow ids are names' keyed hashes)
// never meet a run of an earlier test.
func token() string { return fmt.Sprintf("%d", time.Now().UnixNano()%10_000_000_000) }

// flat makes a corpus value readable in a subtest name.
func flat(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	if s == "" {
		s = "(empty)"
	}
	return s
}

// flatAll names subtests after corpus values.
func flatAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = flat(v)
	}
	return out
}
