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
	// ErrInvalidPackage: the package name, an object key or a staging path is not a plain,
	// safe name.
	ErrInvalidPackage = "InvalidPackage"
	// ErrPackageNotFound: nothing is stored under the package's prefix in the import bucket.
	ErrPackageNotFound = "PackageNotFound"
	// ErrDuplicateImport: the package was imported before; it is never overwritten.
	ErrDuplicateImport = "DuplicateImport"
	// ErrMalformedPackage: the package's .sample file is missing, not JSON, or lists unsafe reads.
	ErrMalformedPackage = "MalformedSampleFile"
)

// permanent wraps err as non-retryable with a message naming the thing at fault.
func permanent(errType string, cause error, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, cause)
}
