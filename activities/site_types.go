package activities

import "time"

// Inputs and results of a site's activities (SiteFilesActivities, SupervisorActivities).

// SitePlanInput asks a site what deploying a version would do there.
type SitePlanInput struct {
	Version  string   `json:"version"`
	Artifact Artifact `json:"artifact"`
	Services []string `json:"services"`
}

// SitePlan lists the actions a deployment would take and the problems it would meet.
type SitePlan struct {
	Actions  []string `json:"actions"`
	Problems []string `json:"problems,omitempty"`
}

// ArchiveResult is where the site keeps its copy of the artifact.
type ArchiveResult struct {
	Path   string `json:"path"`
	Reused bool   `json:"reused,omitempty"`
}

// ServicesInput names the services to act on.
type ServicesInput struct {
	Services []string `json:"services"`
	// Run is the workflow run deploying. Once its start succeeded the run no longer rolls
	// back, so StartServices drops the run's rollback pin (see ExtractInput.Run).
	Run string `json:"run,omitempty"`
}

// ServicesResult reports each service's state afterwards.
type ServicesResult struct {
	States map[string]string `json:"states"`
}

// ExtractInput asks to extract an archived artifact and switch the site to it.
type ExtractInput struct {
	Version     string `json:"version"`
	ArchivePath string `json:"archivePath"`
	// Run is the workflow run deploying (its run id): it names the temporary files, so two
	// runs never share one, and pins the versions this run may still switch back to.
	Run string `json:"run,omitempty"`
	// KeepUntil is when this run can no longer roll back (its end at the latest): until then
	// no other run's extraction removes the version it replaces. Zero: 24 hours from now.
	KeepUntil time.Time `json:"keepUntil,omitempty"`
}

// ExtractResult says what the site ran before and runs now, and what was cleaned up.
type ExtractResult struct {
	Previous string   `json:"previous"`
	Current  string   `json:"current"`
	Removed  []string `json:"removed,omitempty"`
}

// RollbackInput asks to switch back to Previous and start the services on it.
type RollbackInput struct {
	Previous string   `json:"previous"`
	Failed   string   `json:"failed"`
	Services []string `json:"services"`
	// Run is the workflow run rolling back; it names the temporary symlink.
	Run string `json:"run,omitempty"`
}

// RollbackResult reports the version now running.
type RollbackResult struct {
	Current string            `json:"current"`
	States  map[string]string `json:"states"`
}
