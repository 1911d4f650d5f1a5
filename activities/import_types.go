package activities

import "github.com/opsflow/opsflow/internal/samplepkg"

// Inputs and results of the sample package import (ImportActivities).

// ImportInput names the package (sample) to import; the name is sensitive.
type ImportInput struct {
	Package string `json:"package"`
	// Kind is what the package holds; "" is samplepkg.KindSample.
	Kind   samplepkg.Kind `json:"kind,omitempty"`
	DryRun bool           `json:"dryRun,omitempty"`
}

// FetchResult says where the package was staged and what it holds.
type FetchResult struct {
	// PackageID is the keyed hash of the name, safe for search attributes.
	PackageID   string   `json:"packageId"`
	Environment string   `json:"environment"`
	StagingDir  string   `json:"stagingDir"`
	Files       []string `json:"files"`
	Bytes       int64    `json:"bytes"`
}

// VerifyResult lists what was checked.
type VerifyResult struct {
	Reads int `json:"reads"`
}

// PublishResult is where the package now is.
type PublishResult struct {
	Dir string `json:"dir"`
}
