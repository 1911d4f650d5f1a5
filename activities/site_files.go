package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/release"
	"github.com/opsflow/opsflow/internal/s3store"
)

// SiteFilesActivities do the file work of a release on one site, the way an operator would
// after `ssh` to its host: archive the artifact, extract a version beside the running one,
// switch the symlink, switch back on a rollback, prune old versions. The files are laid out
// as release.Layout says, under {Site.Dir}/sw. One instance per site, registered on that
// site's own task queue.
type SiteFilesActivities struct {
	Site    release.Site
	S3      *s3.Client
	Package string
	// KeepVersions is how many extracted versions stay in releases/ (at least current + previous).
	KeepVersions int
	// Services are the site's supervisord services: a rollback stops them, switches back and
	// starts them again in one activity, and a plan reports their state.
	Services *SupervisorActivities
}

func (a *SiteFilesActivities) layout() release.Layout { return a.Site.Layout(a.Package) }

// services is the site's supervisord, or a clear error when this instance was built without it.
func (a *SiteFilesActivities) services() (*SupervisorActivities, error) {
	if a.Services == nil {
		return nil, fmt.Errorf("site %s: no supervisord services configured for the site's file activities", a.Site.Name)
	}
	return a.Services, nil
}

// DeployedVersion reads the VERSION the site runs now; "" when nothing was deployed yet.
func (a *SiteFilesActivities) DeployedVersion(ctx context.Context) (string, error) {
	current := a.layout().CurrentLink()
	if _, err := os.Lstat(current); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return readVersion(current)
}

// ArchiveArtifact copies the artifact from S3 into sw/archive and verifies its SHA-256. It
// never overwrites a different file of the same name. An interrupted download resumes from
// the byte offset it last heartbeated.
func (a *SiteFilesActivities) ArchiveArtifact(ctx context.Context, art Artifact) (ArchiveResult, error) {
	want, err := checksum.NormalizeHex("sha256", art.SHA256)
	if err != nil {
		return ArchiveResult{}, permanent(ErrChecksumMismatch, err, "artifact %s: %v", art.Key, err)
	}
	dir := a.layout().ArchiveDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ArchiveResult{}, err
	}
	final := filepath.Join(dir, filepath.Base(art.Key))
	if _, err := os.Stat(final); err == nil {
		if err := checksum.VerifySHA256(final, want); err != nil {
			return ArchiveResult{}, permanent(ErrArchiveConflict, err,
				"%s already exists with different content (%v): not overwriting an archived release", final, err)
		}
		return ArchiveResult{Path: final, Reused: true}, nil
	}

	part := final + ".part"
	if err := a.download(ctx, art, part); err != nil {
		return ArchiveResult{}, err
	}
	if err := checksum.VerifySHA256(part, want); err != nil {
		_ = os.Remove(part)
		return ArchiveResult{}, permanent(ErrChecksumMismatch, err, "downloaded %s does not match its checksum: %v", art.Key, err)
	}
	if err := os.Link(part, final); err != nil { // fails, rather than overwrites, if final appeared meanwhile
		return ArchiveResult{}, fmt.Errorf("archive %s: %w", final, err)
	}
	_ = os.Remove(part)
	return ArchiveResult{Path: final}, nil
}

// download writes the artifact into part, resuming from the offset an earlier attempt
// heartbeated when part still holds that much, and heartbeats the bytes written.
func (a *SiteFilesActivities) download(ctx context.Context, art Artifact, part string) error {
	var offset int64
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &offset); err != nil {
			offset = 0
		}
	}
	if st, err := os.Stat(part); err != nil || st.Size() < offset {
		offset = 0
	}
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(offset); err != nil {
		return err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	body, err := s3store.GetRange(ctx, a.S3, art.Bucket, art.Key, offset)
	if err != nil {
		if s3store.IsNotFound(err) {
			return permanent(ErrArtifactNotFound, err, "artifact s3://%s/%s not found", art.Bucket, art.Key)
		}
		return err
	}
	defer body.Close()
	name := fmt.Sprintf("s3://%s/%s", art.Bucket, art.Key)
	if _, err := streamFrom(f, body, offset, name, func(written int64) { activity.RecordHeartbeat(ctx, written) }); err != nil {
		return err
	}
	return f.Close()
}
