package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
)

// ArchiveRefusal is an archive ArchiveToJSON refused for good, with why.
type ArchiveRefusal struct {
	Archive   BridgeArchive `json:"archive"`
	ErrorType string        `json:"errorType"`
	Reason    string        `json:"reason"`
}

// RecordArchiveRefusal writes the refused marker of the archive's record, so the sweep does not
// start it again on every run; nothing else is written for the record.
func (a *BridgeArchiveActivities) RecordArchiveRefusal(ctx context.Context, in ArchiveRefusal) error {
	if err := bridge.CheckRecordID(in.Archive.RecordID); err != nil {
		return permanent(ErrInvalidInput, err, "RecordArchiveRefusal: %v", err)
	}
	body, err := json.Marshal(bridge.Refusal{RecordID: in.Archive.RecordID, SourceBucket: in.Archive.Bucket,
		SourceKey: in.Archive.Key, ErrorType: in.ErrorType, Reason: in.Reason})
	if err != nil {
		return err
	}
	key := bridge.RefusedMarkerKey(in.Archive.RecordID)
	if _, err := a.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(a.DataBucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json")}); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", a.DataBucket, key, err)
	}
	return nil
}

// refusedBefore reports whether the record's archive was refused (and not cleared since).
func (a *BridgeArchiveActivities) refusedBefore(ctx context.Context, recordID string) (bool, error) {
	_, found, err := s3store.Head(ctx, a.S3, a.DataBucket, bridge.RefusedMarkerKey(recordID))
	return found, err
}
