package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/bridge"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/samplepkg"
	"github.com/opsflow/opsflow/internal/sqsclient"
)

// DrainArchiveNotifications receives up to in.Max S3 event notifications from the
// notification queue (the successor pipeline's trigger: S3 → (SNS →) SQS), reads each new
// archive's recordid (HEAD) and calls Start for it. A message is deleted only after Start
// returned for every archive it names; an error leaves it (and the rest of the batch) to be
// delivered again. Malformed messages, S3 test events and archives not taken are deleted and
// counted as Ignored; they are logged without content.
func (a *BridgeArchiveActivities) DrainArchiveNotifications(ctx context.Context, in DrainInput) (DrainResult, error) {
	if a.Start == nil || a.SQS == nil || a.NotificationQueueURL == "" {
		return DrainResult{}, permanent(ErrInvalidInput, nil, "the worker does not drain Bridge notifications (no starter, SQS client or queue)")
	}
	limit := in.Max
	if limit <= 0 {
		limit = 100
	}
	var res DrainResult
	logger := activity.GetLogger(ctx)
	for res.Received < limit {
		msgs, err := a.SQS.Receive(ctx, a.NotificationQueueURL, min(sqsclient.MaxBatch, limit-res.Received), time.Second)
		if err != nil {
			return res, err
		}
		if len(msgs) == 0 {
			break
		}
		res.Received += len(msgs)
		var done []sqsclient.Message
		for i, m := range msgs {
			if err := a.handleNotification(ctx, m, &res); err != nil {
				if derr := a.SQS.Delete(ctx, a.NotificationQueueURL, done); derr != nil {
					logger.Warn("could not delete handled notifications", "count", len(done), "error", derr)
				}
				return res, fmt.Errorf("notification %d of the batch (message %s): %w", i, m.ID, err)
			}
			done = append(done, m)
			activity.RecordHeartbeat(ctx, res)
		}
		if err := a.SQS.Delete(ctx, a.NotificationQueueURL, done); err != nil {
			return res, err
		}
	}
	return res, nil
}

// handleNotification starts the run of every archive a message names.
func (a *BridgeArchiveActivities) handleNotification(ctx context.Context, m sqsclient.Message, res *DrainResult) error {
	logger := activity.GetLogger(ctx)
	archives, ignored, err := parseS3Event(m.Body)
	if err != nil {
		logger.Warn("ignoring a malformed notification", "message", m.ID, "length", len(m.Body))
		res.Ignored++
		return nil
	}
	res.Ignored += ignored
	for _, ar := range archives {
		if ar.Bucket != a.ArchiveBucket || !strings.HasSuffix(ar.Key, ".zip") {
			res.Ignored++
			continue
		}
		info, found, err := s3store.Head(ctx, a.S3, ar.Bucket, ar.Key)
		if err != nil {
			return err
		}
		id := info.Metadata["recordid"]
		if !found || bridge.CheckRecordID(id) != nil {
			logger.Warn("ignoring a notified archive that is gone or has no usable recordid", "message", m.ID, "found", found)
			res.Ignored++
			continue
		}
		ar.RecordID = id
		started, err := a.Start(ctx, id, ar)
		if err != nil {
			return fmt.Errorf("starting the run of record %s: %w", id, err)
		}
		if started {
			res.Started++
		} else {
			res.Duplicates++
		}
	}
	return nil
}

// s3Event is an S3 event notification, possibly inside an SNS envelope.
type s3Event struct {
	Type    string `json:"Type"`    // "Notification" for an SNS envelope
	Message string `json:"Message"` // the SNS envelope's S3 event
	Event   string `json:"Event"`   // "s3:TestEvent"
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// parseS3Event returns the archives an S3 event notification announces (keys URL-decoded)
// and how many of its records were skipped (test events, events other than object creation,
// records without a bucket or key, keys with empty, "." or ".." segments), or an error for a body that is no S3 event.
func parseS3Event(body string) (archives []BridgeArchive, ignored int, err error) {
	var ev s3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return nil, 0, err
	}
	if ev.Type == "Notification" && ev.Message != "" {
		if err := json.Unmarshal([]byte(ev.Message), &ev); err != nil {
			return nil, 0, err
		}
	}
	if ev.Event == "s3:TestEvent" {
		return nil, 1, nil
	}
	if ev.Records == nil {
		return nil, 0, fmt.Errorf("no Records")
	}
	for _, r := range ev.Records {
		key, kerr := url.QueryUnescape(r.S3.Object.Key)
		// A key with an empty, "." or ".." segment names no archive this pipeline wrote (an
		// S3 server may even refuse it): ignored, so it can never fail the poll for the rest.
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") || r.S3.Bucket.Name == "" || key == "" || kerr != nil ||
			strings.HasSuffix(key, "/") || samplepkg.CheckPath(key) != nil {
			ignored++
			continue
		}
		archives = append(archives, BridgeArchive{Bucket: r.S3.Bucket.Name, Key: key})
	}
	return archives, ignored, nil
}

// SweepArchives lists one page of the archive bucket under in.Prefix after in.Cursor and
// returns the archives whose record has no marker yet (not processed), with their record
// ids; a Schedule pages through the bucket and starts a run for each (the run id makes a
// run started twice a no-op).
func (a *BridgeArchiveActivities) SweepArchives(ctx context.Context, in SweepInput) (SweepPage, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	out, err := a.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(a.ArchiveBucket), Prefix: aws.String(in.Prefix),
		StartAfter: aws.String(in.Cursor), MaxKeys: aws.Int32(int32(limit))})
	if err != nil {
		return SweepPage{}, fmt.Errorf("list s3://%s/%s after %q: %w", a.ArchiveBucket, in.Prefix, in.Cursor, err)
	}
	page := SweepPage{Archives: []BridgeArchive{}, Unidentified: []string{}}
	for i, o := range out.Contents {
		key := aws.ToString(o.Key)
		if !strings.HasSuffix(key, ".zip") {
			page.Skipped++
			continue
		}
		info, found, err := s3store.Head(ctx, a.S3, a.ArchiveBucket, key)
		if err != nil {
			return SweepPage{}, err
		}
		if !found {
			continue // deleted since the listing
		}
		id := info.Metadata["recordid"]
		if bridge.CheckRecordID(id) != nil {
			page.Unidentified = append(page.Unidentified, key)
			continue
		}
		done, err := a.markerExists(ctx, id)
		if err != nil {
			return SweepPage{}, err
		}
		refused := false
		if !done {
			if refused, err = a.refusedBefore(ctx, id); err != nil {
				return SweepPage{}, err
			}
		}
		switch {
		case done:
			page.Processed++
		case refused:
			page.Refused++
		default:
			page.Archives = append(page.Archives, BridgeArchive{Bucket: a.ArchiveBucket, Key: key, RecordID: id})
		}
		activity.RecordHeartbeat(ctx, i)
	}
	if aws.ToBool(out.IsTruncated) && len(out.Contents) > 0 {
		page.NextCursor = aws.ToString(out.Contents[len(out.Contents)-1].Key)
	}
	return page, nil
}
