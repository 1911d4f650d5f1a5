package ellastub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opsflow/opsflow/internal/ella"
	"github.com/opsflow/opsflow/internal/testsupport/supervisordtest"
)

// Release file names of a stand-in ELLA host under ella.ReleasesDir, as ELLA's release
// artifacts are named (ella-release-<tag>.sif).
const (
	ReleaseV1     = "ella-release-v1.0.0.sif"
	ReleaseV2     = "ella-release-v2.0.0.sif"
	ReleaseBroken = "ella-release-v3.0.0.sif"
)

// Config files of a stand-in host under ConfigDir, the ones a deploy may load.
const (
	ConfigDir         = "config"
	UserGroupsFile    = "usergroups.json"
	FilterConfigsFile = "filterconfigs.json"
	// AccessLogFile is nginx's access log under the host's directory.
	AccessLogFile = "logs/access.log"
)

// Releases are the stand-in images a host holds, by file name.
var Releases = map[string]Image{ReleaseV1: ImageV1, ReleaseV2: ImageV2, ReleaseBroken: ImageBroken}

// Host is a stand-in ELLA host's production directory: the releases with their checksums,
// ella-prod/ella.sif pointing at ReleaseV1, the config files and the logs directory.
type Host struct {
	Dir  string
	Sums map[string]string
}

// WriteHost lays out (or resets) a stand-in host's production directory in dir: every release
// of Releases, ella.sif pointing at v1, and the config files. The database is not touched.
func WriteHost(dir string) (Host, error) {
	h := Host{Dir: dir, Sums: map[string]string{}}
	for _, d := range []string{ella.ReleasesDir, filepath.Dir(ella.ProductionLink), ConfigDir, filepath.Dir(AccessLogFile)} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return Host{}, err
		}
	}
	for name, img := range Releases {
		if err := WriteImage(filepath.Join(dir, ella.ReleasesDir, name), img); err != nil {
			return Host{}, err
		}
		sum := sha256.Sum256(img.Content())
		h.Sums[name] = hex.EncodeToString(sum[:])
	}
	link := h.Link()
	if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
		return Host{}, err
	}
	if err := os.Symlink(ella.LinkTarget(ReleaseV1), link); err != nil {
		return Host{}, err
	}
	files := map[string]string{
		UserGroupsFile:    `[{"name": "HTS", "config": {"acmg": true}}, {"name": "Sanger"}]`,
		FilterConfigsFile: `[{"name": "Standard", "filters": ["frequency", "region"]}]`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, ConfigDir, name), []byte(body+"\n"), 0o644); err != nil {
			return Host{}, err
		}
	}
	return h, nil
}

// Link is the production symlink ELLA runs from.
func (h Host) Link() string { return filepath.Join(h.Dir, ella.ProductionLink) }

// AccessLog is nginx's access log on the host.
func (h Host) AccessLog() string { return filepath.Join(h.Dir, AccessLogFile) }

// Programs are the host's four supervisord programs running the stand-in binary stub from the
// production symlink against dbURL, nginx listening on listen and appending to accessLog
// ("": no log; a test writing the log itself passes "").
func (h Host) Programs(stub, dbURL, listen, accessLog string, autoStart bool) []supervisordtest.Program {
	var out []supervisordtest.Program
	for _, mode := range Modes {
		cmd := fmt.Sprintf("%s serve --mode %s --image %s --listen %s", stub, mode, h.Link(), listen)
		if accessLog != "" {
			cmd += " --access-log " + accessLog
		}
		out = append(out, supervisordtest.Program{Name: mode, StartSecs: 1, Directory: h.Dir, AutoStart: autoStart,
			Command: cmd, Environment: map[string]string{"DB_URL": dbURL}})
	}
	return out
}
