package activities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.temporal.io/sdk/activity"

	"github.com/opsflow/opsflow/internal/checksum"
	"github.com/opsflow/opsflow/internal/config"
	"github.com/opsflow/opsflow/internal/s3store"
	"github.com/opsflow/opsflow/internal/supervisor"
)

// SiteActivities do the local work on one site, the way an operator would after `ssh` to
// its host: archive the artifact, stop and start services, extract and switch versions.
// One instance per site, registered on that site's own task queue.
//
// On disk, under {Dir}/sw: archive/ keeps every artifact, releases/ holds extracted versions,
// and the {Package} symlink points at the one that runs.
type SiteActivities struct {
	Site    config.Site
	S3      *s3.Client
	Package string
	// KeepVersions is how many extracted versions stay in releases/ (at least current + previous).
	KeepVersions int
	// StableFor is how long a started service must stay RUNNING.
	StableFor time.Duration

	mu          sync.Mutex
	supervisors map[string]*supervisor.Client
}

func (a *SiteActivities) swDir() string       { return filepath.Join(a.Site.Dir, "sw") }
func (a *SiteActivities) archiveDir() string  { return filepath.Join(a.swDir(), "archive") }
func (a *SiteActivities) releasesDir() string { return filepath.Join(a.swDir(), "releases") }
func (a *SiteActivities) currentLink() string { return filepath.Join(a.swDir(), a.Package) }
func (a *SiteActivities) releaseName(version string) string {
	return a.Package + "-" + version
}

// DeployedVersion reads the VERSION the site runs now; "" when nothing was deployed yet.
func (a *SiteActivities) DeployedVersion(ctx context.Context) (string, error) {
	if _, err := os.Lstat(a.currentLink()); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return readVersion(a.currentLink())
}

// ArchiveArtifact copies the artifact from S3 into sw/archive and verifies its SHA-256. It
// never overwrites a different file of the same name. An interrupted download resumes from
// the byte offset it last heartbeated.
func (a *SiteActivities) ArchiveArtifact(ctx context.Context, art Artifact) (ArchiveResult, error) {
	want, err := checksum.NormalizeHex("sha256", art.SHA256)
	if err != nil {
		return ArchiveResult{}, permanent(ErrChecksumMismatch, err, "artifact %s: %v", art.Key, err)
	}
	if err := os.MkdirAll(a.archiveDir(), 0o755); err != nil {
		return ArchiveResult{}, err
	}
	final := filepath.Join(a.archiveDir(), filepath.Base(art.Key))
	if _, err := os.Stat(final); err == nil {
		if err := checksum.VerifySHA256(final, want); err != nil {
			return ArchiveResult{}, permanent(ErrArchiveConflict, err,
				"%s already exists with different content (%v): not overwriting an archived release", final, err)
		}
		return ArchiveResult{Path: final, Reused: true}, nil
	}

	part := final + ".part"
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
		return ArchiveResult{}, err
	}
	defer f.Close()
	if err := f.Truncate(offset); err != nil {
		return ArchiveResult{}, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ArchiveResult{}, err
	}
	body, err := s3store.GetRange(ctx, a.S3, art.Bucket, art.Key, offset)
	if err != nil {
		if s3store.IsNotFound(err) {
			return ArchiveResult{}, permanent(ErrArtifactNotFound, err, "artifact s3://%s/%s not found", art.Bucket, art.Key)
		}
		return ArchiveResult{}, err
	}
	defer body.Close()
	written := offset
	buf := make([]byte, 1<<20)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return ArchiveResult{}, err
			}
			written += int64(n)
			activity.RecordHeartbeat(ctx, written)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return ArchiveResult{}, fmt.Errorf("download s3://%s/%s at byte %d: %w", art.Bucket, art.Key, written, rerr)
		}
	}
	if err := f.Close(); err != nil {
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

// PlanSiteDeploy reports what a deployment of in.Version would do on this site and what
// would stop it, touching nothing: no download, no stop, no extraction.
func (a *SiteActivities) PlanSiteDeploy(ctx context.Context, in SitePlanInput) (SitePlan, error) {
	var plan SitePlan
	archived := filepath.Join(a.archiveDir(), filepath.Base(in.Artifact.Key))
	switch _, err := os.Stat(archived); {
	case err != nil:
		plan.Actions = append(plan.Actions, fmt.Sprintf("download s3://%s/%s to %s and verify its SHA-256", in.Artifact.Bucket, in.Artifact.Key, archived))
	case in.Artifact.SHA256 == "":
		plan.Problems = append(plan.Problems, archived+" already exists and the artifact is not built yet: it may conflict")
	default:
		if err := checksum.VerifySHA256(archived, in.Artifact.SHA256); err != nil {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s exists with different content: %v", archived, err))
		} else {
			plan.Actions = append(plan.Actions, "reuse the archived "+archived)
		}
	}
	for _, name := range in.Services {
		c, err := a.client(name)
		if err != nil {
			plan.Problems = append(plan.Problems, err.Error())
			continue
		}
		info, err := c.ProcessInfo(ctx, name)
		if err != nil {
			plan.Problems = append(plan.Problems, fmt.Sprintf("service %s: %v", name, err))
			continue
		}
		plan.Actions = append(plan.Actions, fmt.Sprintf("stop %s (now %s)", name, info.StateName))
	}
	previous, err := a.DeployedVersion(ctx)
	if err != nil {
		plan.Problems = append(plan.Problems, err.Error())
	}
	target := filepath.Join(a.releasesDir(), a.releaseName(in.Version))
	plan.Actions = append(plan.Actions,
		fmt.Sprintf("extract into %s, check VERSION is %s, point %s at it (previous: %q kept for rollback)", target, in.Version, a.currentLink(), previous),
		fmt.Sprintf("start %s and check each stays RUNNING for %s", strings.Join(in.Services, ", "), a.StableFor))
	return plan, nil
}

// StopServices stops each service and waits until it is stopped; stopped ones stay stopped.
func (a *SiteActivities) StopServices(ctx context.Context, in ServicesInput) (ServicesResult, error) {
	states := map[string]string{}
	for _, name := range in.Services {
		c, err := a.client(name)
		if err != nil {
			return ServicesResult{}, err
		}
		activity.RecordHeartbeat(ctx, "stopping "+name)
		if err := c.Stop(ctx, name); err != nil {
			return ServicesResult{}, a.serviceError(name, "stop", err)
		}
		info, err := c.ProcessInfo(ctx, name)
		if err != nil {
			return ServicesResult{}, a.serviceError(name, "stop", err)
		}
		states[name] = info.StateName
	}
	return ServicesResult{States: states}, nil
}

// StartServices starts each service and checks it stays RUNNING for StableFor.
// A run whose services started no longer rolls back: its rollback pin goes.
func (a *SiteActivities) StartServices(ctx context.Context, in ServicesInput) (ServicesResult, error) {
	run, err := runToken(ctx, in.Run)
	if err != nil {
		return ServicesResult{}, err
	}
	res, err := a.start(ctx, in.Services)
	if err == nil {
		a.unpin(ctx, run)
	}
	return res, err
}

func (a *SiteActivities) start(ctx context.Context, services []string) (ServicesResult, error) {
	states := map[string]string{}
	for _, name := range services {
		c, err := a.client(name)
		if err != nil {
			return ServicesResult{}, err
		}
		activity.RecordHeartbeat(ctx, "starting "+name)
		if err := c.Start(ctx, name); err != nil {
			return ServicesResult{}, a.serviceError(name, "start", err)
		}
		activity.RecordHeartbeat(ctx, "watching "+name)
		if err := c.WaitRunningFor(ctx, name, a.StableFor); err != nil {
			if ctx.Err() != nil {
				return ServicesResult{}, err
			}
			return ServicesResult{}, permanent(ErrServiceStartFailed, err, "site %s: %s did not stay running: %v", a.Site.Name, name, err)
		}
		states[name] = "RUNNING"
	}
	return ServicesResult{States: states}, nil
}

// client returns the supervisord client of the host that runs service.
func (a *SiteActivities) client(service string) (*supervisor.Client, error) {
	var svc *config.Service
	for i := range a.Site.Services {
		if a.Site.Services[i].Name == service {
			svc = &a.Site.Services[i]
		}
	}
	if svc == nil {
		return nil, permanent(ErrUnknownService, nil, "site %s has no service %q", a.Site.Name, service)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.supervisors[svc.SupervisorURL]; ok {
		return c, nil
	}
	c, err := supervisor.New(svc.SupervisorURL, svc.SupervisorUser, svc.SupervisorPassword, 30*time.Second)
	if err != nil {
		return nil, err
	}
	if a.supervisors == nil {
		a.supervisors = map[string]*supervisor.Client{}
	}
	a.supervisors[svc.SupervisorURL] = c
	return c, nil
}

func (a *SiteActivities) serviceError(name, action string, err error) error {
	switch {
	case supervisor.IsBadName(err):
		return permanent(ErrUnknownService, err, "site %s: supervisord does not know %q: %v", a.Site.Name, name, err)
	case supervisor.IsSpawnFailure(err):
		return permanent(ErrServiceStartFailed, err, "site %s: %s of %s failed: %v", a.Site.Name, action, name, err)
	}
	return fmt.Errorf("site %s: %s %s: %w", a.Site.Name, action, name, err)
}
