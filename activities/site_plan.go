package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opsflow/opsflow/internal/checksum"
)

// PlanSiteDeploy reports what a deployment of in.Version would do on this site and what
// would stop it, touching nothing: no download, no stop, no extraction.
func (a *SiteFilesActivities) PlanSiteDeploy(ctx context.Context, in SitePlanInput) (SitePlan, error) {
	var plan SitePlan
	l := a.layout()
	archived := filepath.Join(l.ArchiveDir(), filepath.Base(in.Artifact.Key))
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
	services, err := a.services()
	if err != nil {
		return SitePlan{}, err
	}
	for _, name := range in.Services {
		state, err := services.state(ctx, name)
		if err != nil {
			plan.Problems = append(plan.Problems, err.Error())
			continue
		}
		plan.Actions = append(plan.Actions, fmt.Sprintf("stop %s (now %s)", name, state))
	}
	previous, err := a.DeployedVersion(ctx)
	if err != nil {
		plan.Problems = append(plan.Problems, err.Error())
	}
	plan.Actions = append(plan.Actions,
		fmt.Sprintf("extract into %s, check VERSION is %s, point %s at it (previous: %q kept for rollback)",
			l.ReleaseDir(in.Version), in.Version, l.CurrentLink(), previous),
		fmt.Sprintf("start %s and check each stays RUNNING for %s", strings.Join(in.Services, ", "), services.StableFor))
	return plan, nil
}
