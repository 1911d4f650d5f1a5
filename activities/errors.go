// Package activities holds one struct per external system; its methods are the activities.
//
// Activity names are the method names, so every method name is unique across all structs
// (registry_test.go checks it): two structs with the same method would silently collide.
package activities

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// Error types of failures that retrying cannot fix. Workflows and operators match on them.
const (
	ErrInvalidVersion     = "InvalidVersion"
	ErrTagConflict        = "TagConflict"
	ErrUnknownSite        = "UnknownSite"
	ErrChecksumMismatch   = "ChecksumMismatch"
	ErrArchiveConflict    = "ArchiveConflict"
	ErrUnsafeArchive      = "UnsafeArchive"
	ErrVersionMismatch    = "VersionMismatch"
	ErrUnknownService     = "UnknownService"
	ErrServiceStartFailed = "ServiceStartFailed"
	ErrNoPreviousVersion  = "NoPreviousVersion"
	// ErrPreviousVersionMissing: the version to roll back to is not on the site (any more).
	ErrPreviousVersionMissing = "PreviousVersionMissing"
	ErrArtifactNotFound       = "ArtifactNotFound"
	ErrArtifactSource         = "ArtifactSourceRejected"
	// ErrInvalidInput: an activity input no run could have sent (a workflow bug or a hand-made start).
	ErrInvalidInput = "InvalidInput"
	// ErrInvalidWebhook: the configured notification webhook is not a usable URL.
	ErrInvalidWebhook = "InvalidWebhook"
)

// Error types of the sample package import (PackageImport).
const (
	// ErrInvalidPackage: the package name or a staging path is not a plain, safe name.
	ErrInvalidPackage = "InvalidPackage"
	// ErrPackageNotFound: nothing is stored under the package's prefix in the import bucket.
	ErrPackageNotFound = "PackageNotFound"
	// ErrDuplicateImport: the package was imported before; it is never overwritten.
	ErrDuplicateImport = "DuplicateImport"
	// ErrMalformedPackage: the package's .sample file is missing, not JSON, or lists unsafe reads.
	ErrMalformedPackage = "MalformedSampleFile"
	// ErrUnsafeObjectKey: an object key under the package's prefix does not name a file inside
	// the package (a ".", ".." or empty segment, samplepkg.CheckPath); nothing is written.
	ErrUnsafeObjectKey = "UnsafeObjectKey"
	// ErrStagingBusy (retryable): another attempt of the fetch, timed out but still running,
	// holds the lock on a part file; a later attempt resumes once it stopped.
	ErrStagingBusy = "StagingBusy"
)

// Error types of the tsd-import data movers' watchers (lims-exporter, nsc-exporter,
// filelock-exporter), all non-retryable.
const (
	// ErrMalformedLimsDocument: a LIMS response or queue document is not what the LIMS sends
	// (named by the item's LIMS id, never the sample's name); nothing is written for the item.
	ErrMalformedLimsDocument = "MalformedLimsDocument"
	// ErrSampleWithoutReads: the LIMS lists a sample that has no reads to export.
	ErrSampleWithoutReads = "SampleWithoutReads"
	// ErrExportConflict: the export area already holds a different package of that name.
	ErrExportConflict = "ExportConflict"
	// ErrSourceChanged: a file changed while it was read (exported or uploaded); the package is
	// left for the next scan, once it has settled.
	ErrSourceChanged = "SourceChanged"
	// ErrManifestMissing: the package has no manifest on the S3 endpoint, so it is not
	// (completely) uploaded; it is not imported.
	ErrManifestMissing = "ManifestMissing"
	// ErrManifestMismatch: the package's objects or staged files differ from its manifest
	// (a file missing, extra, of another size or SHA-256).
	ErrManifestMismatch = "ManifestMismatch"
)

// Error types of the revalidation sync (RevalidationSync and RevalidationRollback), all
// non-retryable.
const (
	// ErrSyncIndexEmpty: the new build holds no TCS doctors; the live index keeps serving.
	ErrSyncIndexEmpty = "SyncIndexEmpty"
	// ErrSyncIndexShrunk: the new build is smaller than the live index by more than maxShrink.
	ErrSyncIndexShrunk = "SyncIndexShrunk"
	// ErrSyncIncomplete: the build misses doctors a producer announced.
	ErrSyncIncomplete = "SyncIncomplete"
	// ErrMalformedMessage: a broker message is not what the services send (named by position or id, never content).
	ErrMalformedMessage = "MalformedSyncMessage"
	// ErrBulkRejected: the search engine refused a document (retrying would send it again).
	ErrBulkRejected = "BulkRejected"
	// ErrSyncDataTimeout: a producer stayed silent longer than the idle timeout.
	ErrSyncDataTimeout = "SyncDataTimeout"
	// ErrIndexStillLive: the index named holds an alias; it is never created over or dropped.
	ErrIndexStillLive = "IndexStillLive"
	// ErrSyncIndexNameTaken: an index of the new build's name already holds documents.
	ErrSyncIndexNameTaken = "SyncIndexNameTaken"
	// Refusals of RevalidationRollback: no earlier build that served is left (or nothing
	// serves), the build to go back to is empty or gone, or the aliases moved since the
	// rollback was planned (a sync switched meanwhile).
	ErrNoServedBuild          = "NoServedBuildToRollBackTo"
	ErrRollbackTargetUnusable = "RollbackTargetUnusable"
	ErrAliasesMoved           = "AliasesMoved"
)

// Error types of the Bridge Parquet stage (BridgeJSONToParquet), all non-retryable.
const (
	// ErrBridgeMalformedRecord: an NDJSON line is not a JSON object, or its injected
	// assessmentid/year/month/day/recordid disagree with its key (named by key and line).
	// Stage 1 validates what it writes, so this is a bug or a hand-made object.
	ErrBridgeMalformedRecord = "BridgeMalformedRecord"
	// ErrBridgeTypeConflict: a column's values in one partition cannot share a type (a
	// string and a number, an object and a scalar, two fields flattening to one name); the
	// message and the details name dataset, partition, table, column, types and records.
	// Nothing is coerced and nothing of the partition is written: fix the data or make a
	// new dataset version (the original's schema-change protocol).
	ErrBridgeTypeConflict = "BridgeTypeConflict"
)

// Error types of the Bridge archive stage (BridgeArchiveToJSON), all non-retryable; nothing
// is written for the record (no NDJSON, no record marker).
const (
	// ErrBridgeArchiveNotFound: no archive object at the bucket and key (deleted, or a wrong key).
	ErrBridgeArchiveNotFound = "BridgeArchiveNotFound"
	// ErrBridgeArchiveMetadata: the archive's S3 metadata lacks recordid, assessmentid,
	// assessmentrevision or uploadedon, or one of them is unusable (named, never the values
	// of other keys: healthcode is sensitive).
	ErrBridgeArchiveMetadata = "BridgeArchiveMetadata"
	// ErrBridgeMalformedArchive: the ZIP is truncated or corrupt, encrypted, or uses an
	// unsupported compression method.
	ErrBridgeMalformedArchive = "BridgeMalformedArchive"
	// ErrBridgeUnsafeArchive: an entry's name leaves the archive (absolute, "..", backslash,
	// drive letter), is a link or special file, or is a duplicate.
	ErrBridgeUnsafeArchive = "BridgeUnsafeArchive"
	// ErrBridgeArchiveTooLarge: the archive exceeds its limits (entries, inflated bytes,
	// ratio; a decompression bomb), checked while inflating.
	ErrBridgeArchiveTooLarge = "BridgeArchiveTooLarge"
	// ErrBridgeMalformedJSON: a file that is mapped or has a schema is not JSON, or not the
	// shape its dataset needs (an object, or a list of objects).
	ErrBridgeMalformedJSON = "BridgeMalformedJSON"
)

// permanent wraps err as non-retryable with a message naming the thing at fault.
func permanent(errType string, cause error, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, cause)
}
