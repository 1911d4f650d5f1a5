package activities

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// RollbackRelease stops the services, switches back to the previous version and starts the
// services on it.
func (a *SiteFilesActivities) RollbackRelease(ctx context.Context, in RollbackInput) (RollbackResult, error) {
	if in.Previous == "" {
		return RollbackResult{}, permanent(ErrNoPreviousVersion, nil,
			"site %s has no previous version of %s to roll back to: services %v stay STOPPED",
			a.Site.Name, a.Package, in.Services)
	}
	run, err := runToken(ctx, in.Run)
	if err != nil {
		return RollbackResult{}, err
	}
	services, err := a.services()
	if err != nil {
		return RollbackResult{}, err
	}
	dir := a.layout().ReleaseDir(in.Previous)
	if st, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) || (err == nil && !st.IsDir()) {
		// Retrying cannot bring a removed directory back: say so at once, services are stopped.
		return RollbackResult{}, permanent(ErrPreviousVersionMissing, err,
			"site %s: cannot roll back to %s: %s is missing; nothing was switched and services %v stay STOPPED",
			a.Site.Name, in.Previous, dir, in.Services)
	}
	got, err := readVersion(dir)
	if err != nil {
		return RollbackResult{}, fmt.Errorf("site %s: previous version %s at %s: %w", a.Site.Name, in.Previous, dir, err)
	}
	if got != in.Previous {
		return RollbackResult{}, permanent(ErrVersionMismatch, nil, "site %s: %s says VERSION %q, expected %q", a.Site.Name, dir, got, in.Previous)
	}
	// Services the failed attempt managed to start run the new code: stop them first.
	if _, err := services.stop(ctx, in.Services); err != nil {
		return RollbackResult{}, err
	}
	if err := a.switchTo(in.Previous, run); err != nil {
		return RollbackResult{}, err
	}
	res, err := services.start(ctx, in.Services)
	if err != nil {
		return RollbackResult{}, err
	}
	unpin(ctx, a.Site.Name, a.layout(), run)
	return RollbackResult{Current: in.Previous, States: res.States}, nil
}
