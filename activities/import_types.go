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
	// Manifest is the package's manifest as fetched, which VerifyPackage checks the staged
	// files against (nil in results recorded before manifests: VerifyPackage reads it again).
	Manifest *samplepkg.Manifest `json:"manifest,omitempty"`
	// PublishedDir is where PublishPackage will put the package, for a dry run's plan.
	PublishedDir string `json:"publishedDir,omitempty"`
}

// VerifyResult lists what was checked.
type VerifyResult struct {
	Reads int `json:"reads"`
	// Files is how many files were checked against the manifest.
	Files int `json:"files,omitempty"`
}

// PublishResult is where the package now is.
type PublishResult struct {
	Dir string `json:"dir"`
}

// FileCheck is one file of a package that failed a check, with what was expected and what
// was found where known: the quarantine report lists them so an operator can tell a
// truncated transfer from a wrong manifest.
type FileCheck struct {
	Path string `json:"path"`
	// Problem is "missing" (listed, not there), "extra" (there, not listed), "size", "sha256",
	// "md5" or "not in manifest" (a read of the .sample the manifest does not list).
	Problem    string `json:"problem"`
	WantSize   int64  `json:"wantSize,omitempty"`
	GotSize    int64  `json:"gotSize,omitempty"`
	WantSHA256 string `json:"wantSha256,omitempty"`
	GotSHA256  string `json:"gotSha256,omitempty"`
	WantMD5    string `json:"wantMd5,omitempty"`
	GotMD5     string `json:"gotMd5,omitempty"`
}

// QuarantineReport is REPORT.json in a quarantined package's directory: why it was refused.
// It names the package: the quarantine is inside the (sensitive) durable area.
type QuarantineReport struct {
	Reason    string         `json:"reason"`
	Kind      samplepkg.Kind `json:"kind"`
	Package   string         `json:"package"`
	PackageID string         `json:"packageId"`
	Time      string         `json:"time"`
	// Staged tells whether the package's staged files are beside the report (false when the
	// fetch refused it before copying anything).
	Staged bool        `json:"staged"`
	Files  []FileCheck `json:"files,omitempty"`
}
