//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/codec"
	"github.com/opsflow/opsflow/internal/testsupport/leakscan"
)

// codecOutput collects a process's output while the test reads it.
type codecOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *codecOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *codecOutput) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// codecFiles is a private codec server's configuration: its token and keys in files of the
// given modes, in a directory of the test.
type codecFiles struct {
	dir, token, tokenFile, keyLine, keysFile string
}

func newCodecFiles(t *testing.T, tokenMode, keysMode os.FileMode) codecFiles {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	f := codecFiles{dir: t.TempDir(), token: hex.EncodeToString(b)}
	f.keyLine, err = codec.GenerateKey("sec-test")
	require.NoError(t, err)
	f.tokenFile = writeSecretFile(t, filepath.Join(f.dir, "codec-token"), f.token+"\n", tokenMode)
	f.keysFile = writeSecretFile(t, filepath.Join(f.dir, "codec-keys"), f.keyLine+"\n", keysMode)
	return f
}

// writeSecretFile writes a file and sets its mode exactly (the umask does not apply to Chmod).
func writeSecretFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	require.NoError(t, os.Chmod(path, mode))
	return path
}

// buildStarter builds the opsflow starter (the codec server is its codec-server subcommand).
func buildStarter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "opsflow")
	cmd := exec.Command("go", "build", "-o", bin, "./starter")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./starter: %s", out)
	return bin
}

// codecServerCmd is `opsflow codec-server` with the flags given and nothing from the test's
// environment (the stack's OPSFLOW_CODEC_* must not fill in what a case leaves out).
func codecServerCmd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, append([]string{"codec-server"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return cmd
}

// startCodecServer runs a codec server until the test ends and waits until it accepts
// connections; it returns its URL and its output so far (read it after the requests).
func startCodecServer(t *testing.T, bin string, f codecFiles) (string, *codecOutput) {
	t.Helper()
	addr := freeAddr(t)
	out := &codecOutput{}
	cmd := codecServerCmd(context.Background(), bin, "--listen", addr, "--token-file", f.tokenFile,
		"--codec-keys-file", f.keysFile, "--ui-origins", "http://127.0.0.1:8233")
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("codec server exited (%v): %s", err, out.Bytes())
		default:
		}
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			return "http://" + addr, out
		}
		require.True(t, time.Now().Before(deadline), "codec server not listening on %s after 30s: %s", addr, out.Bytes())
		time.Sleep(50 * time.Millisecond)
	}
}

// codecPost sends a codec request (payloads JSON) with the given Authorization header (none
// when empty) and returns the status and body.
func codecPost(t *testing.T, url, auth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b.Bytes()
}

// TestSecurityCodecServerE2E runs the codec server (the starter binary, built once) as a
// private process: tokens checks the tokens a running server accepts, start the
// configurations it refuses to start with.
func TestSecurityCodecServerE2E(t *testing.T) {
	bin := buildStarter(t)
	t.Run("tokens", func(t *testing.T) { codecServerTokens(t, bin) })
	t.Run("start", func(t *testing.T) { codecServerStart(t, bin) })
}

// codecServerTokens asks a private codec server to decode a payload it encrypted: only the
// bearer token in the Authorization header decodes; no token, a wrong or partial one, another
// scheme, and the token in the query string or anywhere in the path but its first segment are
// refused with 401, and no refusal shows the payload or the token. The server's output shows
// neither the token nor the key.
func codecServerTokens(t *testing.T, bin string) {
	f := newCodecFiles(t, 0o600, 0o600)
	url, serverOut := startCodecServer(t, bin, f)
	marker := "Diag-codec-sec-NA12878-PLANTED"
	bearer := "Bearer " + f.token

	plain, err := json.Marshal(map[string]any{"payloads": []map[string]any{{
		"metadata": map[string][]byte{"encoding": []byte("json/plain")}, "data": []byte(`"` + marker + `"`)}}})
	require.NoError(t, err)
	status, encrypted := codecPost(t, url+"/encode", bearer, plain)
	require.Equal(t, http.StatusOK, status, "%s", encrypted)
	payloadScan := leakscan.Must(leakscan.Secret{Name: "payload", Value: marker})
	require.Empty(t, payloadScan.Scan("encoded", encrypted), "the server encrypted the payload")

	status, decoded := codecPost(t, url+"/decode", bearer, encrypted)
	require.Equal(t, http.StatusOK, status, "%s", decoded)
	require.NotEmpty(t, payloadScan.Scan("decoded", decoded), "the token in the Authorization header decodes")

	refusals := leakscan.Must(leakscan.Secret{Name: "payload", Value: marker}, leakscan.Secret{Name: "codec token", Value: f.token})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("opsflow:"+f.token))
	for _, c := range []struct{ name, path, auth string }{
		{"no token", "/decode", ""},
		{"wrong token", "/decode", "Bearer " + f.token[:len(f.token)-4] + "0000"},
		{"token with more after it", "/decode", bearer + "x"},
		{"a prefix of the token", "/decode", bearer[:len(bearer)-1]},
		{"empty bearer", "/decode", "Bearer "},
		{"token as Basic credentials", "/decode", basic},
		{"token in the query", "/decode?token=" + f.token, ""},
		{"access_token in the query", "/decode?access_token=" + f.token, ""},
		{"bearer in the query", "/decode?authorization=Bearer%20" + f.token, ""},
		{"token after the endpoint", "/decode/" + f.token, ""},
		{"token deeper in the path", "/codec/" + f.token + "/decode", ""},
		{"token in the path with a wrong bearer", "/" + f.token + "/decode", "Bearer wrong-token-0123456789"},
		{"token as the first path segment (only with --ui-path-token)", "/" + f.token + "/decode", ""},
	} {
		status, body := codecPost(t, url+c.path, c.auth, encrypted)
		assert.Equal(t, http.StatusUnauthorized, status, "%s: %s", c.name, body)
		for _, leak := range refusals.Scan(c.name, body) {
			t.Errorf("the refusal shows a secret: %s", leak)
		}
	}

	key, err := codec.ParseKeys(f.keyLine)
	require.NoError(t, err)
	credentials := leakscan.Must(leakscan.Secret{Name: "codec token", Value: f.token}, leakscan.Secret{Name: "codec key", Value: string(key[0].Secret)})
	out := serverOut.Bytes()
	assert.Contains(t, string(out), "codec server on "+url)
	for _, leak := range credentials.Scan("codec server output", out) {
		t.Errorf("%s", leak)
	}
}

// refusedAtStart runs a codec server that must refuse to start: it must exit non-zero within
// 20 seconds (not serve) with an error naming the problem and no secret of the files.
func refusedAtStart(t *testing.T, bin string, f codecFiles, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := codecServerCmd(ctx, bin, append([]string{"--listen", freeAddr(t)}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "the codec server started serving (%v): %s", args, out)
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the codec server must refuse to start (%v): %v: %s", args, err, out)
	assert.Contains(t, string(out), want, "%v", args)
	key, err := codec.ParseKeys(f.keyLine)
	require.NoError(t, err)
	for _, leak := range leakscan.Must(leakscan.Secret{Name: "codec token", Value: f.token},
		leakscan.Secret{Name: "codec key", Value: string(key[0].Secret)}).Scan("codec server output", out) {
		t.Errorf("%s", leak)
	}
}

// codecServerStart: the codec server never decrypts for anonymous callers: it refuses to
// start without a token file, with a missing one, with a token under 16 characters, and
// without keys.
func codecServerStart(t *testing.T, bin string) {
	f := newCodecFiles(t, 0o600, 0o600)
	short := codecFiles{dir: f.dir, token: "0123456789", keyLine: f.keyLine, keysFile: f.keysFile,
		tokenFile: writeSecretFile(t, filepath.Join(f.dir, "short-token"), "0123456789\n", 0o600)}
	missing := filepath.Join(f.dir, "no-such-token")
	refusedAtStart(t, bin, f, "--token-file is required", "--codec-keys-file", f.keysFile)
	refusedAtStart(t, bin, f, missing, "--codec-keys-file", f.keysFile, "--token-file", missing)
	refusedAtStart(t, bin, short, "shorter than 16 characters", "--codec-keys-file", f.keysFile, "--token-file", short.tokenFile)
	refusedAtStart(t, bin, f, "no encryption key", "--token-file", f.tokenFile)
}
