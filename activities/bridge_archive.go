package activities

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/safearchive"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// BridgeArchiveActivities are stage 1 of the Bridge downstream pipeline (BridgeArchiveToJSON):
// one Bridge export archive becomes NDJSON datasets; and the two ways archives are found,
// the S3 event notification queue and a sweep of the archive bucket.
type BridgeArchiveActivities struct {
	S3  *s3.Client
	SQS *sqsclient.Client
	// ArchiveBucket is where Bridge exports archives: notifications of other buckets are
	// ignored, and SweepArchives lists it.
	ArchiveBucket string
	// DataBucket receives raw_json/: the NDJSON datasets and the record markers.
	DataBucket string
	// InvalidQueueURL receives records that fail validation (the original's invalid queue).
	InvalidQueueURL string
	// NotificationQueueURL is the SQS queue of S3 event notifications of new archives.
	NotificationQueueURL string
	// Mapping chooses datasets and schemas (bridge.LoadMapping at worker start).
	Mapping *bridge.Mapping
	// Limits bound what one archive may inflate to.
	Limits safearchive.ZipLimits
	// Start starts an archive's run (DrainArchiveNotifications); nil when the worker does
	// not drain notifications.
	Start ArchiveStarter
	// TempDir holds downloaded archives while they are read ("" = the system's).
	TempDir string
}

// ArchiveToJSON converts one archive. It reads the archive's S3 metadata, downloads it to a
// temporary file (heartbeating), refuses a broken or hostile ZIP non-retryably, chooses each
// file's dataset and schema (bridge.Mapping), and validates. An invalid record goes to the
// invalid queue with the original's validation_result and no NDJSON is written; otherwise
// each dataset's NDJSON (injected fields, one line per object) is written to
// bridge.RawJSONKey, overwriting an earlier run's. The record marker is written last in
// both cases, so a sweep skips the archive. A refused archive gets nothing, not even a marker.
func (a *BridgeArchiveActivities) ArchiveToJSON(ctx context.Context, in BridgeArchive) (ArchiveToJSONResult, error) {
	if in.Bucket == "" || in.Key == "" {
		return ArchiveToJSONResult{}, permanent(ErrInvalidInput, nil, "ArchiveToJSON needs a bucket and a key, got %q and %q", in.Bucket, in.Key)
	}
	if a.Mapping == nil {
		return ArchiveToJSONResult{}, permanent(ErrInvalidInput, nil, "the worker has no Bridge mapping loaded")
	}
	src := fmt.Sprintf("s3://%s/%s", in.Bucket, in.Key)
	info, meta, err := a.headArchive(ctx, in)
	if err != nil {
		return ArchiveToJSONResult{}, err
	}
	limits := a.limits()
	if info.Size > limits.MaxBytes {
		return ArchiveToJSONResult{}, permanent(ErrBridgeArchiveTooLarge, nil, "archive %s is %d bytes, more than the %d bytes it may inflate to", src, info.Size, limits.MaxBytes)
	}
	path, err := a.download(ctx, in, info)
	if err != nil {
		return ArchiveToJSONResult{}, err
	}
	defer os.Remove(path)
	z, err := safearchive.OpenZip(path, limits)
	if err != nil {
		return ArchiveToJSONResult{}, refusedArchive(src, err)
	}
	defer z.Close()

	rec, err := a.examine(z, meta, src)
	if err != nil {
		return ArchiveToJSONResult{}, err
	}
	res := ArchiveToJSONResult{RecordID: meta.RecordID, Unmapped: rec.unmapped, MarkerKey: bridge.RecordMarkerKey(meta.RecordID)}
	summary := bridge.RecordSummary{RecordID: meta.RecordID, SourceBucket: in.Bucket, SourceKey: in.Key, Unmapped: rec.unmapped, Datasets: []bridge.DatasetWritten{}}
	if rec.validation.Invalid() {
		res.Invalid, summary.Invalid = true, true
		summary.InvalidFiles = rec.errorCounts
		for _, f := range sortedKeys(rec.errorCounts) {
			res.InvalidFiles = append(res.InvalidFiles, InvalidFile{File: f, Errors: rec.errorCounts[f]})
		}
		body, err := bridge.InvalidMessage{SourceBucket: in.Bucket, SourceKey: in.Key, ValidationResult: rec.validation}.Body()
		if err != nil {
			return ArchiveToJSONResult{}, err
		}
		if err := a.SQS.Send(ctx, a.InvalidQueueURL, body); err != nil {
			return ArchiveToJSONResult{}, fmt.Errorf("sending record %s to the invalid queue: %w", meta.RecordID, err)
		}
	} else {
		written, err := a.writeDatasets(ctx, z, rec, meta)
		if err != nil {
			return ArchiveToJSONResult{}, err
		}
		res.Datasets, summary.Datasets = written, written
	}
	if err := a.putMarker(ctx, summary); err != nil {
		return ArchiveToJSONResult{}, err
	}
	activity.GetLogger(ctx).Info("bridge archive converted", "datasets", len(res.Datasets),
		"unmapped", len(res.Unmapped), "invalid", res.Invalid)
	return res, nil
}

// RecordIDOf reads an archive's recordid metadata (HEAD), which names its run.
func (a *BridgeArchiveActivities) RecordIDOf(ctx context.Context, in BridgeArchive) (string, error) {
	if in.Bucket == "" || in.Key == "" {
		return "", permanent(ErrInvalidInput, nil, "RecordIDOf needs a bucket and a key, got %q and %q", in.Bucket, in.Key)
	}
	info, found, err := s3store.Head(ctx, a.S3, in.Bucket, in.Key)
	if err != nil {
		return "", err
	}
	if !found {
		return "", permanent(ErrBridgeArchiveNotFound, nil, "no archive at s3://%s/%s", in.Bucket, in.Key)
	}
	id := info.Metadata["recordid"]
	if id == "" {
		return "", permanent(ErrBridgeArchiveMetadata, nil, "archive s3://%s/%s has no recordid metadata", in.Bucket, in.Key)
	}
	if err := bridge.CheckRecordID(id); err != nil {
		return "", permanent(ErrBridgeArchiveMetadata, err, "archive s3://%s/%s: %v", in.Bucket, in.Key, err)
	}
	return id, nil
}

func (a *BridgeArchiveActivities) limits() safearchive.ZipLimits {
	l := a.Limits
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 30
	}
	return l
}

// refusedArchive maps OpenZip's refusal to the stage's error types.
func refusedArchive(src string, err error) error {
	var ze *safearchive.ZipError
	if !errors.As(err, &ze) {
		return fmt.Errorf("reading archive %s: %w", src, err) // the local disk: retryable
	}
	typ := ErrBridgeMalformedArchive
	switch ze.Problem {
	case safearchive.ZipUnsafeName, safearchive.ZipLink, safearchive.ZipDuplicate:
		typ = ErrBridgeUnsafeArchive
	case safearchive.ZipTooLarge:
		typ = ErrBridgeArchiveTooLarge
	}
	return permanent(typ, err, "archive %s refused, nothing written: %v", src, err)
}
