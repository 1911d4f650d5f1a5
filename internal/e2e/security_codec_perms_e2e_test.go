//go:build e2e

package e2e

import (
	"os"
	"testing"
)

// TestSecurityCodecFilePermissionsE2E: the codec server refuses secret files others may read.
func TestSecurityCodecFilePermissionsE2E(t *testing.T) {
	t.Parallel()
	codecServerLooseFiles(t, buildStarter(t))
}

// codecServerLooseFiles: a token file or a keys file that others may read (a group or other
// permission bit) is refused at start, naming the file and its mode; owner-only files start.
func codecServerLooseFiles(t *testing.T, bin string) {
	for _, mode := range []os.FileMode{0o644, 0o666, 0o640, 0o604} {
		f := newCodecFiles(t, mode, 0o600)
		refusedAtStart(t, bin, f, f.tokenFile+" is "+mode.String(), "--codec-keys-file", f.keysFile, "--token-file", f.tokenFile)
		f = newCodecFiles(t, 0o600, mode)
		refusedAtStart(t, bin, f, f.keysFile+" is "+mode.String(), "--codec-keys-file", f.keysFile, "--token-file", f.tokenFile)
	}
	startCodecServer(t, bin, newCodecFiles(t, 0o400, 0o400))
}
