package release

import "fmt"

// The artifact of a release: a tar.gz with one top directory <pkg>-<version>/ holding the
// software and a VERSION file, stored once per version in the artifact bucket with its
// SHA-256 and the commit it was built from as object metadata.

// ReleaseName is pkg-version: the extracted directory and the artifact's top directory.
func ReleaseName(pkg, version string) string { return pkg + "-" + version }

// VersionFile is the file at the root of a release that names its version.
const VersionFile = "VERSION"

// ArtifactKey is where a version's artifact lives in the artifact bucket.
func ArtifactKey(pkg, version string) string {
	return fmt.Sprintf("%s/%s/%s.tar.gz", pkg, version, ReleaseName(pkg, version))
}

// Object metadata entries of a stored artifact.
const (
	// ArtifactSHA256Metadata carries the artifact's SHA-256 (lowercase hex), so a site
	// verifies what it downloaded without trusting the transport.
	ArtifactSHA256Metadata = "sha256"
	// ArtifactCommitMetadata records the commit the artifact was built from, so a stored
	// artifact is reused only for the same commit.
	ArtifactCommitMetadata = "commit"
)
