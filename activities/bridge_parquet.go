package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/bridge/relational"
	"github.com/opsflow/opsflow/internal/parquetx"
	"github.com/opsflow/opsflow/internal/s3store"
)

// BridgeParquetActivities is stage 2 of the Bridge downstream pipeline: a dataset's NDJSON
// (raw_json/dataset=<id>/<partition>/<recordid>.ndjson, written by stage 1) becomes
// relationalized Parquet tables (parquet/<table>/<partition>/part-NNNNN.parquet), one
// partition at a time. The bookmark is a manifest per partition
// (parquet/_converted/dataset=<id>/<partition>manifest.json) of the NDJSON keys and ETags
// converted, written once the partition's files are complete.
type BridgeParquetActivities struct {
	S3 *s3.Client
	// Bucket holds both the NDJSON and the Parquet tables (config Bridge.DataBucket).
	Bucket string
	// TargetFileMiB caps a Parquet part (a new part starts past it); 0: 128.
	TargetFileMiB int
	// RowGroupMiB cuts row groups by buffered size; 0: 64. A converting worker holds about
	// one row group per table of the dataset.
	RowGroupMiB int
	// Compression of the Parquet parts: "" is DefaultBridgeCompression; else "zstd" (zstd's
	// default level), "zstd-fastest" or "snappy" (parquetx.Options.Compression).
	Compression string
	// TempDir holds the parts while they are written (then uploaded); "": os.TempDir().
	TempDir string

	// partUploaded, when set (by tests), is called after each part is uploaded.
	partUploaded func(key string)
}

// DefaultBridgeCompression is the parts' compression when Compression is "": zstd's fastest
// level, about half the CPU of its default level for files a little larger.
const DefaultBridgeCompression = "zstd-fastest"

// MaxListed bounds the record ids and keys a result lists (the counts are complete).
const MaxListed = 1000

// ConvertedPrefix holds the partitions' manifests: the stage's bookmark.
const ConvertedPrefix = bridge.ParquetPrefix + "_converted/"

// ManifestKey is where a partition's manifest is.
func ManifestKey(dataset, partition string) string {
	return ConvertedPrefix + "dataset=" + dataset + "/" + partition + "manifest.json"
}

// pendingKey lists the tables a conversion of the partition is writing, before it writes
// them: a conversion killed halfway leaves it, and the next one cleans those tables too.
func pendingKey(dataset, partition string) string {
	return ConvertedPrefix + "dataset=" + dataset + "/" + partition + "pending.json"
}

// source is one NDJSON object of a partition.
type source struct {
	Key  string `json:"key"`
	ETag string `json:"etag"`
}

// partitionManifest is what a partition's conversion wrote, from which NDJSON objects.
type partitionManifest struct {
	Dataset   string           `json:"dataset"`
	Partition string           `json:"partition"`
	Sources   []source         `json:"sources"`
	Tables    []string         `json:"tables"`
	Files     []string         `json:"files"`
	Rows      map[string]int64 `json:"rows"`
}

// pendingTables is the content of pendingKey.
type pendingTables struct {
	Tables []string `json:"tables"`
}

// datasetListing is a dataset's NDJSON objects grouped by partition path.
type datasetListing struct {
	partitions map[string][]source // sorted by key
	sizes      map[string]int64    // each listed key's size
	unexpected []string
	unexpCount int
}

// listDataset lists a dataset's NDJSON (or one partition's, when partition is not "").
func (a *BridgeParquetActivities) listDataset(ctx context.Context, dataset, partition string) (*datasetListing, error) {
	prefix := bridge.DatasetPrefix(dataset)
	l := &datasetListing{partitions: map[string][]source{}, sizes: map[string]int64{}}
	p := s3.NewListObjectsV2Paginator(a.S3, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix + partition)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", a.Bucket, prefix+partition, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			part, ok := partitionOfKey(prefix, key)
			if !ok {
				if l.unexpCount++; len(l.unexpected) < MaxListed {
					l.unexpected = append(l.unexpected, key)
				}
				continue
			}
			l.partitions[part] = append(l.partitions[part], source{Key: key, ETag: aws.ToString(o.ETag)})
			l.sizes[key] = aws.ToInt64(o.Size)
		}
	}
	for _, srcs := range l.partitions {
		slices.SortFunc(srcs, func(x, y source) int { return strings.Compare(x.Key, y.Key) })
	}
	return l, nil
}

// partitionOfKey accepts <prefix><partition path><recordid>.ndjson with a partition path in
// its canonical form (month=9, not month=09).
func partitionOfKey(prefix, key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		return "", false
	}
	part, name := rest[:i+1], rest[i+1:]
	p, err := bridge.ParsePartitionPath(part)
	if err != nil || p.Path() != part {
		return "", false
	}
	id, ok := strings.CutSuffix(name, ".ndjson")
	if !ok || bridge.CheckRecordID(id) != nil {
		return "", false
	}
	return part, true
}

// recordIDOfKey is the record id an NDJSON key names.
func recordIDOfKey(key string) string {
	return strings.TrimSuffix(key[strings.LastIndexByte(key, '/')+1:], ".ndjson")
}

// manifests reads every partition manifest of the dataset.
func (a *BridgeParquetActivities) manifests(ctx context.Context, dataset string) (map[string]*partitionManifest, error) {
	prefix := ConvertedPrefix + "dataset=" + dataset + "/"
	out := map[string]*partitionManifest{}
	p := s3.NewListObjectsV2Paginator(a.S3, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", a.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			part, ok := strings.CutSuffix(strings.TrimPrefix(key, prefix), "manifest.json")
			if !ok {
				continue // a pending.json
			}
			var m partitionManifest
			found, err := a.getJSON(ctx, key, &m)
			if err != nil {
				return nil, err
			}
			if found {
				out[part] = &m
			}
		}
	}
	return out, nil
}

// getJSON reads a small JSON object; found=false when it does not exist.
func (a *BridgeParquetActivities) getJSON(ctx context.Context, key string, v any) (bool, error) {
	out, err := a.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	if err != nil {
		if s3store.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("get s3://%s/%s: %w", a.Bucket, key, err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(out.Body).Decode(v); err != nil {
		return false, permanent(ErrInvalidInput, err, "s3://%s/%s is not the JSON the Bridge Parquet stage writes", a.Bucket, key)
	}
	return true, nil
}

func (a *BridgeParquetActivities) putJSON(ctx context.Context, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json")})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", a.Bucket, key, err)
	}
	return nil
}

func sameSources(m *partitionManifest, srcs []source) bool {
	return m != nil && slices.Equal(m.Sources, srcs)
}

// ListStalePartitions lists the dataset's partitions to convert: those whose NDJSON keys or
// ETags differ from their manifest (a record added or written again), those never converted,
// and those converted whose NDJSON is all gone (converting them removes their tables).
func (a *BridgeParquetActivities) ListStalePartitions(ctx context.Context, in BridgeDatasetInput) (StalePartitions, error) {
	if err := bridge.CheckDataset(in.Dataset); err != nil {
		return StalePartitions{}, permanent(ErrInvalidInput, err, "ListStalePartitions: %v", err)
	}
	l, err := a.listDataset(ctx, in.Dataset, "")
	if err != nil {
		return StalePartitions{}, err
	}
	ms, err := a.manifests(ctx, in.Dataset)
	if err != nil {
		return StalePartitions{}, err
	}
	out := StalePartitions{Unexpected: l.unexpected}
	for part, srcs := range l.partitions {
		if !sameSources(ms[part], srcs) {
			out.Partitions = append(out.Partitions, part)
			out.Records += len(srcs)
		}
	}
	for part := range ms {
		if _, ok := l.partitions[part]; !ok {
			out.Partitions = append(out.Partitions, part)
		}
	}
	slices.Sort(out.Partitions)
	return out, nil
}

// CheckCompleteness is the original's bootstrap diff: every record id of the dataset's
// NDJSON (from the keys' names) must be in the recordid column of the root table's Parquet
// files of its partition. Partitions not converted since their NDJSON changed count as
// missing without being read.
func (a *BridgeParquetActivities) CheckCompleteness(ctx context.Context, in BridgeDatasetInput) (CompletenessResult, error) {
	if err := bridge.CheckDataset(in.Dataset); err != nil {
		return CompletenessResult{}, permanent(ErrInvalidInput, err, "CheckCompleteness: %v", err)
	}
	l, err := a.listDataset(ctx, in.Dataset, "")
	if err != nil {
		return CompletenessResult{}, err
	}
	ms, err := a.manifests(ctx, in.Dataset)
	if err != nil {
		return CompletenessResult{}, err
	}
	root := bridge.TableName(in.Dataset)
	var out CompletenessResult
	var missing []string
	parts := make([]string, 0, len(l.partitions))
	for p := range l.partitions {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for i, part := range parts {
		srcs := l.partitions[part]
		out.Records += len(srcs)
		present := map[string]bool{}
		if m := ms[part]; sameSources(m, srcs) {
			for _, f := range m.Files {
				if strings.HasPrefix(f, bridge.TablePrefix(root)+part) && strings.HasSuffix(f, ".parquet") {
					activity.RecordHeartbeat(ctx, i) // a part is up to TargetFileMiB: beat before each
					if err := a.eachRecordID(ctx, f, func(id string) { present[id] = true }); err != nil {
						return CompletenessResult{}, err
					}
				}
			}
		}
		for _, s := range srcs {
			if id := recordIDOfKey(s.Key); !present[id] {
				missing = append(missing, id)
			}
		}
		activity.RecordHeartbeat(ctx, i+1)
	}
	slices.Sort(missing)
	out.MissingCount = len(missing)
	out.Missing = missing[:min(len(missing), MaxListed)]
	return out, nil
}

// eachRecordID reads a root table part's recordid column (the part is downloaded to a
// temporary file: parts are up to TargetFileMiB). A part gone since the conversion gives no
// record: its records are missing.
func (a *BridgeParquetActivities) eachRecordID(ctx context.Context, key string, fn func(string)) error {
	out, err := a.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	if s3store.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", a.Bucket, key, err)
	}
	defer out.Body.Close()
	f, err := os.CreateTemp(a.TempDir, "bridge-check-*.parquet")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, out.Body)
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", a.Bucket, key, err)
	}
	pf, err := parquetx.Open(f, n)
	if err != nil {
		return fmt.Errorf("s3://%s/%s: %w", a.Bucket, key, err)
	}
	return pf.EachValue(relational.InheritedColumns[4], func(v any) error {
		if s, ok := v.(string); ok {
			fn(s)
		}
		return nil
	})
}
