package activities

import (
	"context"

	"github.com/opsflow/opsflow/internal/bridge"
)

// BridgeArchive names one Bridge export archive (a ZIP with S3 metadata).
type BridgeArchive struct {
	Bucket string
	Key    string
	// RecordID is the archive's recordid metadata when the caller already read it
	// (SweepArchives fills it); ArchiveToJSON reads it from S3 itself.
	RecordID string `json:",omitempty"`
}

// ArchiveStarter starts the BridgeArchiveToJSON run of one archive (the worker starts the
// workflow with id "bridge-archive-<recordID>"). started is false when a run of that id
// already exists: a redelivered notification is then a no-op.
type ArchiveStarter func(ctx context.Context, recordID string, archive BridgeArchive) (started bool, err error)

// ArchiveToJSONResult is what stage 1 did with one archive. It holds no S3 metadata values
// (healthcode is sensitive), only the record id, dataset ids, keys, file names and counts.
type ArchiveToJSONResult struct {
	RecordID string
	// Datasets are the NDJSON objects written (one per dataset), in dataset order; empty
	// when the record is invalid.
	Datasets []bridge.DatasetWritten
	// Unmapped are the archive's files no mapping names a dataset for (not written).
	Unmapped []string
	// Invalid: a file failed its schema; the record went to the invalid queue, no NDJSON.
	Invalid bool
	// InvalidFiles are the failing files with their error counts, by file name.
	InvalidFiles []InvalidFile
	// MarkerKey is the record marker written last (in the data bucket).
	MarkerKey string
}

// InvalidFile is a file that failed validation and how many errors it had.
type InvalidFile struct {
	File   string
	Errors int
}

// DrainInput bounds one drain of the notification queue.
type DrainInput struct {
	// Max is the most messages one call receives (default 100).
	Max int
}

// DrainResult counts what one drain did. Received counts messages; Started and Duplicates
// count archives (a message may name several); Ignored counts malformed messages, S3 test
// events and archives not taken (not a .zip, another bucket, an event other than a
// creation, gone, or without a usable recordid).
type DrainResult struct {
	Received, Started, Duplicates, Ignored int
}

// SweepInput asks for one page of the archive bucket's listing.
type SweepInput struct {
	// Prefix limits the sweep to keys under it.
	Prefix string
	// Cursor is the previous page's NextCursor ("" = from the start).
	Cursor string
	// Limit is the most keys listed in this page (default 100, at most 1000).
	Limit int
}

// SweepPage is one page of the sweep.
type SweepPage struct {
	// Archives are the archives not processed yet (no record marker), with their RecordID.
	Archives []BridgeArchive
	// NextCursor continues the sweep; "" when the listing is done.
	NextCursor string
	// Processed counts archives skipped because their record marker exists.
	Processed int
	// Refused counts archives refused before (their refused marker exists): not tried again.
	Refused int
	// Skipped counts keys that are not .zip archives.
	Skipped int
	// Unidentified are archives without a usable recordid metadata: no run can be started
	// for them (operators look at them).
	Unidentified []string
}
