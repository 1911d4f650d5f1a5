package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/safearchive"
)

// archiveHead is what the HEAD of an archive told: its size and ETag (the GET must match).
type archiveHead struct {
	Size int64
	ETag string
}

// headArchive reads the archive's size and metadata; a missing archive or unusable
// metadata is refused non-retryably.
func (a *BridgeArchiveActivities) headArchive(ctx context.Context, in BridgeArchive) (archiveHead, bridge.ArchiveMeta, error) {
	out, err := a.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(in.Bucket), Key: aws.String(in.Key)})
	if err != nil {
		if s3store.IsNotFound(err) {
			return archiveHead{}, bridge.ArchiveMeta{}, permanent(ErrBridgeArchiveNotFound, nil, "no archive at s3://%s/%s", in.Bucket, in.Key)
		}
		return archiveHead{}, bridge.ArchiveMeta{}, fmt.Errorf("head s3://%s/%s: %w", in.Bucket, in.Key, err)
	}
	meta, err := bridge.ParseArchiveMeta(out.Metadata)
	if err != nil {
		return archiveHead{}, bridge.ArchiveMeta{}, permanent(ErrBridgeArchiveMetadata, err, "archive s3://%s/%s: %v", in.Bucket, in.Key, err)
	}
	return archiveHead{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag)}, meta, nil
}

// download copies the archive (the version the HEAD saw) to a temporary file, heartbeating
// the bytes copied; the caller removes the file. An archive that changed since the HEAD or
// came short is a retryable error: the next attempt starts over with a new HEAD.
func (a *BridgeArchiveActivities) download(ctx context.Context, in BridgeArchive, head archiveHead) (string, error) {
	get := &s3.GetObjectInput{Bucket: aws.String(in.Bucket), Key: aws.String(in.Key)}
	if head.ETag != "" {
		get.IfMatch = aws.String(head.ETag)
	}
	out, err := a.S3.GetObject(ctx, get)
	if err != nil {
		return "", fmt.Errorf("get s3://%s/%s: %w", in.Bucket, in.Key, err)
	}
	defer out.Body.Close()
	f, err := os.CreateTemp(a.TempDir, "bridge-archive-*.zip")
	if err != nil {
		return "", fmt.Errorf("temporary file for s3://%s/%s: %w", in.Bucket, in.Key, err)
	}
	last := time.Now()
	n, err := streamFrom(f, io.LimitReader(out.Body, head.Size+1), 0, "s3://"+in.Bucket+"/"+in.Key, func(written int64) {
		if time.Since(last) >= time.Second {
			activity.RecordHeartbeat(ctx, written)
			last = time.Now()
		}
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != head.Size {
		err = fmt.Errorf("s3://%s/%s: got %d bytes, the HEAD said %d (changed meanwhile?)", in.Bucket, in.Key, n, head.Size)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// examined is the first pass over an archive: each file's choice, what is unmapped, and
// the validation result. Nothing is kept of the files' content.
type examined struct {
	choices     []bridge.Choice // the mapped files, in archive order
	unmapped    []string
	validation  bridge.ValidationResult
	errorCounts map[string]int
}

// examine chooses every file's dataset and schema, parses the files that have either,
// validates them, and checks they have the shape their dataset needs, so that writing
// (second pass) cannot fail for the data's sake half-way.
func (a *BridgeArchiveActivities) examine(z *safearchive.ZipArchive, meta bridge.ArchiveMeta, src string) (examined, error) {
	ex := examined{validation: bridge.NewValidationResult(a.Mapping.AppID, meta), errorCounts: map[string]int{}, unmapped: []string{}}
	rec := bridge.Record{AssessmentID: meta.AssessmentID, Revision: meta.Revision}
	if z.Has("metadata.json") {
		doc, err := readJSON(z, "metadata.json", src)
		if err != nil {
			return examined{}, err
		}
		rec.SelfRefs = bridge.SelfRefs(doc)
	}
	for _, e := range z.Entries() {
		if e.Dir {
			continue
		}
		c := a.Mapping.Choose(rec, e.Name)
		if c.Dataset == "" && c.Schema == nil {
			ex.unmapped = append(ex.unmapped, e.Name)
			continue
		}
		doc, err := readJSON(z, e.Name, src)
		if err != nil {
			return examined{}, err
		}
		if errs := c.Validate(doc); len(errs) > 0 {
			ex.validation.Add(e.Name, c.SchemaRef, errs)
			ex.errorCounts[e.Name] = len(errs)
		}
		if c.Dataset == "" {
			ex.unmapped = append(ex.unmapped, e.Name)
			continue
		}
		if _, err := bridge.Inject(e.Name, c.Dataset, doc, meta); err != nil {
			return examined{}, permanent(ErrBridgeMalformedJSON, err, "archive %s, record %s: %v", src, meta.RecordID, err)
		}
		ex.choices = append(ex.choices, c)
	}
	return ex, nil
}

func readJSON(z *safearchive.ZipArchive, name, src string) (any, error) {
	b, err := z.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", src, err)
	}
	doc, err := bridge.DecodeJSON(b)
	if err != nil {
		return nil, permanent(ErrBridgeMalformedJSON, err, "archive %s: %s is not JSON: %v", src, name, err)
	}
	return doc, nil
}

// writeDatasets writes one NDJSON object per dataset (files of one dataset in archive
// order), one dataset in memory at a time, heartbeating after each object.
func (a *BridgeArchiveActivities) writeDatasets(ctx context.Context, z *safearchive.ZipArchive, ex examined, meta bridge.ArchiveMeta) ([]bridge.DatasetWritten, error) {
	byDataset := map[string][]string{}
	for _, c := range ex.choices {
		byDataset[c.Dataset] = append(byDataset[c.Dataset], c.File)
	}
	written := []bridge.DatasetWritten{}
	for _, ds := range sortedKeys(byDataset) {
		var buf bytes.Buffer
		lines := 0
		for _, file := range byDataset[ds] {
			b, err := z.ReadFile(file)
			if err != nil {
				return nil, err
			}
			doc, err := bridge.DecodeJSON(b)
			if err != nil {
				return nil, err // examine parsed it: the temporary file changed
			}
			docs, err := bridge.Inject(file, ds, doc, meta)
			if err != nil {
				return nil, err
			}
			if err := bridge.AppendNDJSON(&buf, docs); err != nil {
				return nil, err
			}
			lines += len(docs)
		}
		key := bridge.RawJSONKey(ds, meta.Partition, meta.RecordID)
		_, err := a.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.DataBucket), Key: aws.String(key),
			Body: bytes.NewReader(buf.Bytes()), ContentLength: aws.Int64(int64(buf.Len())),
			ContentType: aws.String("application/x-ndjson"), Metadata: meta.Metadata})
		if err != nil {
			return nil, fmt.Errorf("put s3://%s/%s: %w", a.DataBucket, key, err)
		}
		written = append(written, bridge.DatasetWritten{Dataset: ds, Key: key, Lines: lines})
		activity.RecordHeartbeat(ctx, len(written))
	}
	return written, nil
}

// putMarker writes the record marker: the record was processed (valid or invalid).
func (a *BridgeArchiveActivities) putMarker(ctx context.Context, s bridge.RecordSummary) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	key := bridge.RecordMarkerKey(s.RecordID)
	_, err = a.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.DataBucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json")})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", a.DataBucket, key, err)
	}
	return nil
}

// markerExists reports whether the record was processed.
func (a *BridgeArchiveActivities) markerExists(ctx context.Context, recordID string) (bool, error) {
	_, found, err := s3store.Head(ctx, a.S3, a.DataBucket, bridge.RecordMarkerKey(recordID))
	return found, err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
