package activities

import "github.com/opsflow/opsflow/internal/samplepkg"

// Inputs and results of the tsd-import data movers' watchers: the lims-exporter
// (LimsActivities), the nsc-exporter (UploadActivities) and the filelock-exporter's scan
// (ImportActivities.ListImportCandidates). Package and sample names are sensitive: they
// travel only in these (encrypted) payloads; ids and search attributes carry keyed hashes.

// ScanPage asks a listing activity for one page of candidates: at most Limit, after
// Cursor (the last page's NextCursor; "" = from the start). Pages keep a scan's history small.
type ScanPage struct {
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit"`
}

// LimsItem is one entry of the LIMS export queue: a sample or an analysis ready to export.
// ID is the LIMS's own id of the queued item (a Clarity artifact LIMS id, or a queue file's
// name); Name is the package name it will be exported as.
type LimsItem struct {
	ID   string         `json:"id"`
	Kind samplepkg.Kind `json:"kind"`
	Name string         `json:"name"`
	// PackageID is samplepkg.KindID of the package: what the workflow may use in child ids.
	PackageID string `json:"packageId"`
}

// LimsQueuePage is a page of the LIMS export queue.
type LimsQueuePage struct {
	Items      []LimsItem `json:"items"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// LimsExportResult says what ExportLimsItem wrote into the export area.
type LimsExportResult struct {
	// PackageID is the keyed hash of the name.
	PackageID string `json:"packageId"`
	Dir       string `json:"dir"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
	// AlreadyExported: the package was written by an earlier attempt; only the LIMS mark was (re)done.
	AlreadyExported bool `json:"alreadyExported,omitempty"`
}

// ExportPackage names a package in the NSC export area (<export>/<kind>/<name>/).
type ExportPackage struct {
	Kind samplepkg.Kind `json:"kind"`
	Name string         `json:"name"`
	// PackageID is samplepkg.KindID of the package, set by the listing activities: the only
	// form of the name a workflow may put in child ids and search attributes.
	PackageID string `json:"packageId"`
}

// ExportScanPage is a page of complete packages in the export area not yet uploaded (no
// manifest on the S3 endpoint). Unsettled counts packages left for the next run because
// they were still being written (no description file yet, or files changing between two looks).
type ExportScanPage struct {
	Packages   []ExportPackage `json:"packages"`
	Unsettled  int             `json:"unsettled"`
	NextCursor string          `json:"nextCursor,omitempty"`
}

// UploadResult is one package uploaded, its manifest written last.
type UploadResult struct {
	PackageID   string `json:"packageId"`
	Files       int    `json:"files"`
	Bytes       int64  `json:"bytes"`
	ManifestKey string `json:"manifestKey"`
	// AlreadyUploaded: the manifest was there already; nothing was sent.
	AlreadyUploaded bool `json:"alreadyUploaded,omitempty"`
	// Sent counts the bytes this attempt transferred; less than Bytes when it resumed an
	// earlier attempt's upload (files and parts found uploaded are not sent again).
	Sent int64 `json:"sent,omitempty"`
}

// ImportCandidatesPage is a page of packages on the S3 endpoint whose manifest is present
// and that are neither published in the durable area nor quarantined.
type ImportCandidatesPage struct {
	Packages []ExportPackage `json:"packages"`
	// Published and Quarantined count packages of this page's listing skipped for those reasons.
	Published   int    `json:"published"`
	Quarantined int    `json:"quarantined"`
	NextCursor  string `json:"nextCursor,omitempty"`
	// Refused lists keys under manifests/ that name no package (unknown kind, unsafe name):
	// never imported, reported by the scan.
	Refused []string `json:"refused,omitempty"`
}

// QuarantineInput moves a staged package that failed verification into quarantine with a
// report of why.
type QuarantineInput struct {
	Package ImportInput `json:"package"`
	Staged  FetchResult `json:"staged"`
	Reason  string      `json:"reason"`
}

// QuarantineResult is where the package and its report now are.
type QuarantineResult struct {
	Dir    string `json:"dir"`
	Report string `json:"report"`
}
