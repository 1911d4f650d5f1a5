package workflows

import (
	"github.com/opsflow/opsflow/activities"
	"go.temporal.io/sdk/temporal"
)

// Failure types the workflows give their runs, for operators and alerting (the ApplicationError
// type of a failed run). Failures of a single step keep the activity's type (activities/errors.go).
const (
	// ErrInvalidInput: the input cannot be run (a malformed time limit, a missing environment).
	ErrInvalidInput = activities.ErrInvalidInput
	// ErrInvalidVersion: the release version is not a vX.Y.Z-rel tag.
	ErrInvalidVersion = activities.ErrInvalidVersion
)

// Failure types of a ReleaseDeploy run.
const (
	// ErrSiteDeployFailed: a step before the stop failed; the site runs what it ran before.
	ErrSiteDeployFailed = "SiteDeployFailed"
	// ErrSiteRolledBack: a step after the stop failed; the previous version runs again.
	ErrSiteRolledBack = "SiteDeployRolledBack"
	// ErrSiteLeftDown: the rollback failed too; the site's services are stopped.
	ErrSiteLeftDown = "SiteLeftStopped"
	// ErrSiteBusy: another release holds the site's deploy lock; nothing was touched there.
	ErrSiteBusy = "SiteBusy"
	// ErrTimeLimit: the run's time limit passed before any site's services were stopped.
	ErrTimeLimit = "TimeLimitReached"
)

// Failure types of the Bridge downstream pipeline.
const (
	// ErrBridgeIncomplete: after a conversion, records of the dataset's NDJSON are missing from
	// its Parquet tables, or partitions failed; the run's result lists them.
	ErrBridgeIncomplete = "BridgeIncomplete"
)

// notCanceled is the cause a run's own failure may carry: nil for the cancellation of the
// step its time limit cut. The SDK closes a run as canceled (not failed) when a
// CanceledError is anywhere in the chain of the error it returns, and a time limit is a
// failure operators must see as TimeLimitReached.
func notCanceled(cause error) error {
	if temporal.IsCanceledError(cause) {
		return nil
	}
	return cause
}
