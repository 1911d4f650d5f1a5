package activities

import "time"

// TagInput asks for a release tag at the head of the release branch.
type TagInput struct {
	Version string `json:"version"`
	// DryRun checks the tag could be created without creating or pushing it.
	DryRun bool `json:"dryRun,omitempty"`
}

// TagResult says where the tag points and whether this run created it.
type TagResult struct {
	Tag     string `json:"tag"`
	Commit  string `json:"commit"`
	Branch  string `json:"branch"`
	Created bool   `json:"created"`
}

// SiteTarget is what the workflow needs to know about a site to plan a release.
type SiteTarget struct {
	Name       string   `json:"name"`
	TaskQueue  string   `json:"taskQueue"`
	Components []string `json:"components"`
	Services   []string `json:"services"`
}

// ReleasePlan is where a release goes: the deployment's environment and its sites.
type ReleasePlan struct {
	Environment string       `json:"environment"`
	Sites       []SiteTarget `json:"sites"`
	// StuckAfter is how long a run may make no progress before operators are told.
	StuckAfter time.Duration `json:"stuckAfter"`
}

// ChangeInput asks whether a site's components changed between the deployed tag and the
// release commit (a commit, so a dry run that created no tag can ask too).
type ChangeInput struct {
	From       string   `json:"from"`
	To         string   `json:"to"`
	Components []string `json:"components"`
}

// ChangeResult lists the changed components; PreviousUnknown means the old tag is not in
// the repository, which counts as changed.
type ChangeResult struct {
	Changed         []string `json:"changed"`
	PreviousUnknown bool     `json:"previousUnknown,omitempty"`
}

// ExportInput asks for the artifact of a tag.
type ExportInput struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// DryRun reports where the artifact would go without building or uploading it.
	DryRun bool `json:"dryRun,omitempty"`
}

// Artifact is a release artifact stored in S3; sites fetch it from there.
type Artifact struct {
	Version string `json:"version"`
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	// Reused is true when the object already existed (a retried or repeated release).
	Reused bool `json:"reused,omitempty"`
	// Planned is true in a dry run: the artifact does not exist yet and SHA256 is empty.
	Planned bool `json:"planned,omitempty"`
}

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
