package activities

import "time"

// Inputs and results of the release's central activities (ReleaseActivities, ArtifactActivities).

// TagInput asks for a release tag at the head of the release branch.
type TagInput struct {
	Version string `json:"version"`
	// DryRun checks the tag could be created without creating or pushing it.
	DryRun bool `json:"dryRun,omitempty"`
	// Sites are the run's requested sites, checked against the configuration before the tag
	// is made: a release to a site that does not exist pushes no tag (ErrUnknownSite).
	Sites []string `json:"sites,omitempty"`
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
