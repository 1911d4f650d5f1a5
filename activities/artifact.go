package activities

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/gitlab"
	"github.com/opsflow/opsflow/internal/gitrepo"
	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/safearchive"
)

// ArtifactSource produces the release tarball of a tag; the seed's source is the CI job,
// the demo's and the tests' is the tag itself.
type ArtifactSource interface {
	// Name appears in logs and errors.
	Name() string
	// Fetch writes the tar.gz of version (a tag at commit) to w.
	Fetch(ctx context.Context, version, commit string, w io.Writer) error
}

// LocalGitSource builds the artifact with `git archive` of the tag, adding the VERSION file.
type LocalGitSource struct {
	Repo    *gitrepo.Repo
	Package string
}

// Name identifies the source in logs.
func (s *LocalGitSource) Name() string { return "git archive of " + s.Repo.Dir }

// Fetch writes the archive of the tag with a top-level directory package-version/.
func (s *LocalGitSource) Fetch(ctx context.Context, version, _ string, w io.Writer) error {
	prefix := release.ReleaseName(s.Package, version) + "/"
	return s.Repo.ArchiveTarGz(ctx, "refs/tags/"+version, prefix, map[string]string{release.VersionFile: version + "\n"}, w)
}

// GitLabSource plays the CI job that builds the artifact and downloads its output.
type GitLabSource struct {
	Client       *gitlab.Client
	Job          string
	ArtifactPath string // "{version}" is replaced
}

// Name identifies the source in logs.
func (s *GitLabSource) Name() string { return "GitLab job " + s.Job + " of " + s.Client.Project }

// Fetch runs the pipeline job for the tag and downloads the artifact, heartbeating job states.
func (s *GitLabSource) Fetch(ctx context.Context, version, _ string, w io.Writer) error {
	path := strings.ReplaceAll(s.ArtifactPath, "{version}", version)
	_, _, err := s.Client.FetchReleaseArtifact(ctx, version, s.Job, path, w, func(j gitlab.Job) {
		activity.RecordHeartbeat(ctx, "gitlab job "+j.Status)
	})
	if err != nil && gitlab.IsNotRetryable(err) {
		return permanent(ErrArtifactSource, err, "%s refused the artifact of %s: %v", s.Name(), version, err)
	}
	return err
}

// ArtifactActivities export release artifacts to the artifact bucket.
type ArtifactActivities struct {
	Source  ArtifactSource
	S3      *s3.Client
	Bucket  string
	Package string
	// WorkDir holds temporary files; empty means the OS temp dir.
	WorkDir string
}

// ExportArtifact produces the tag's artifact, checks it is a safe archive of the right
// version, and stores it with its SHA-256. An artifact already stored is never replaced.
func (a *ArtifactActivities) ExportArtifact(ctx context.Context, in ExportInput) (Artifact, error) {
	if _, err := release.ParseVersion(in.Version); err != nil {
		return Artifact{}, permanent(ErrInvalidVersion, nil, "%v", err)
	}
	key := release.ArtifactKey(a.Package, in.Version)
	if info, found, err := s3store.Head(ctx, a.S3, a.Bucket, key); err != nil {
		return Artifact{}, err
	} else if found {
		sum := info.Metadata[release.ArtifactSHA256Metadata]
		if sum == "" {
			return Artifact{}, permanent(ErrArchiveConflict, nil,
				"s3://%s/%s exists without a sha256 checksum: remove it or verify it by hand", a.Bucket, key)
		}
		if c := info.Metadata[release.ArtifactCommitMetadata]; c != "" && in.Commit != "" && c != in.Commit {
			return Artifact{}, permanent(ErrArchiveConflict, nil,
				"s3://%s/%s was built from commit %s, but %s is at %s: not replacing a published artifact",
				a.Bucket, key, short(c), in.Version, short(in.Commit))
		}
		return Artifact{Version: in.Version, Bucket: a.Bucket, Key: key, SHA256: sum, Size: info.Size, Reused: true}, nil
	}
	if in.DryRun {
		return Artifact{Version: in.Version, Bucket: a.Bucket, Key: key, Planned: true}, nil
	}

	tmp, err := os.MkdirTemp(a.WorkDir, "opsflow-export-")
	if err != nil {
		return Artifact{}, err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, filepath.Base(key))
	f, err := os.Create(file)
	if err != nil {
		return Artifact{}, err
	}
	activity.RecordHeartbeat(ctx, "fetching from "+a.Source.Name())
	if err := a.Source.Fetch(ctx, in.Version, in.Commit, f); err != nil {
		f.Close()
		return Artifact{}, fmt.Errorf("export %s from %s: %w", in.Version, a.Source.Name(), err)
	}
	if err := f.Close(); err != nil {
		return Artifact{}, err
	}
	if err := verifyArtifact(file, filepath.Join(tmp, "check"), in.Version); err != nil {
		return Artifact{}, err
	}
	sum, size, err := checksum.SHA256File(file)
	if err != nil {
		return Artifact{}, err
	}
	activity.RecordHeartbeat(ctx, "uploading")
	if err := s3store.PutFile(ctx, a.S3, a.Bucket, key, file, map[string]string{release.ArtifactSHA256Metadata: sum, release.ArtifactCommitMetadata: in.Commit}); err != nil {
		return Artifact{}, err
	}
	return Artifact{Version: in.Version, Bucket: a.Bucket, Key: key, SHA256: sum, Size: size}, nil
}

// verifyArtifact extracts the archive into scratch and checks VERSION, so a wrong or unsafe
// artifact is refused before any site downloads it.
func verifyArtifact(archive, scratch, version string) error {
	if _, err := safearchive.ExtractTarGzFile(archive, scratch, safearchive.Options{}); err != nil {
		return archiveError(err, archive)
	}
	got, err := readVersion(scratch)
	if err != nil {
		return err
	}
	if got != version {
		return permanent(ErrVersionMismatch, nil, "artifact %s says VERSION %q, expected %q", filepath.Base(archive), got, version)
	}
	return nil
}
