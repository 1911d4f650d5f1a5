package leakscan

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = "Diag-wgs123-NA12878"

func TestClearTextIsFoundAndAbsentTextIsNot(t *testing.T) {
	s := Must(Secret{"sample name", sample})
	got := s.Scan("log", []byte(`{"level":"INFO","msg":"imported","package":"`+sample+`"} and again `+sample))
	require.Len(t, got, 1)
	assert.Equal(t, Finding{Secret: "sample name", Form: FormClear, Source: "log", Offset: 44, Count: 2,
		Around: `":"imported","package":"[SECRET]"} and again [SECRET]`}, got[0])
	assert.Empty(t, s.Scan("log", []byte(`{"package":"h-0123456789abcdef","sample":"Diag-wgs123-NA1287"}`)))
}

// A payload's JSON in a raw history is base64 inside a longer blob: every prefix length (so
// every alignment of the secret in its 3-byte group) and both alphabets are found.
func TestBase64OfAPayloadIsFoundAtEveryAlignment(t *testing.T) {
	s := Must(Secret{"sample name", sample})
	for prefix := 0; prefix < 7; prefix++ {
		payload := []byte(strings.Repeat("x", prefix) + `{"package":"` + sample + `","kind":"samples"}`)
		for form, enc := range map[string]*base64.Encoding{FormBase64: base64.StdEncoding, FormBase64URL: base64.URLEncoding} {
			history := `{"events":[{"input":{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"` +
				enc.EncodeToString(payload) + `"}]}}]}`
			got := s.Scan("history", []byte(history))
			require.NotEmpty(t, got, "prefix %d, %s", prefix, form)
			assert.Contains(t, []string{FormBase64, FormBase64URL}, got[0].Form)
			assert.NotContains(t, got[0].Around, sample)
		}
	}
}

// The URL alphabet is looked for on its own: a secret whose base64 has '+' or '/' appears
// with '-' and '_' in a URL-safe blob.
func TestURLAlphabetIsLookedForOnItsOwn(t *testing.T) {
	secret := "\xfb\xff\xbf>>>???~~~"
	require.Contains(t, base64.StdEncoding.EncodeToString([]byte(secret)), "/")
	s := Must(Secret{"token", secret})
	for prefix := 0; prefix < 3; prefix++ {
		blob := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("a", prefix) + secret + "tail"))
		got := s.Scan("url", []byte("https://ui/?t="+blob))
		require.Len(t, got, 1, "prefix %d", prefix)
		assert.Equal(t, FormBase64URL, got[0].Form)
	}
}

func TestURLAndJSONEscapedFormsAreFound(t *testing.T) {
	secret := "Kari Nordmann <kari>/&x"
	s := Must(Secret{"trainee", secret})
	cases := map[string]string{
		FormURLQuery: "GET /decode?name=" + url.QueryEscape(secret) + " HTTP/1.1",
		FormURLPath:  "GET /people/" + url.PathEscape(secret) + "/record",
	}
	j, err := json.Marshal(map[string]string{"name": secret})
	require.NoError(t, err)
	cases[FormJSON] = string(j)
	for form, text := range cases {
		got := s.Scan(form, []byte(text))
		require.NotEmpty(t, got, form)
		assert.Equal(t, form, got[0].Form, text)
	}
}

// A number (a GMC number) counts only where no digit touches it, so it is not found inside
// longer numbers such as timestamps; its base64 still counts anywhere.
func TestDigitsCountOnlyAsAWholeNumber(t *testing.T) {
	s := Must(Secret{"GMC number", "7123456"})
	assert.Empty(t, s.Scan("metrics", []byte(`latency_bucket{le="17123456"} 3`+"\n"+`ts 71234567`)))
	got := s.Scan("doc", []byte(`{"gmcReferenceNumber":"7123456"}`))
	require.Len(t, got, 1)
	assert.Equal(t, FormClear, got[0].Form)
	got = s.Scan("doc", []byte(base64.StdEncoding.EncodeToString([]byte(`{"gmcReferenceNumber":"7123456"}`))))
	require.Len(t, got, 1)
	assert.Equal(t, FormBase64, got[0].Form)
}

// Encrypted payloads are random base64: a scan of a lot of it finds none of a realistic set
// of secrets (the base64 fragments are long enough not to turn up by chance).
func TestRandomBase64FindsNothing(t *testing.T) {
	var secrets []Secret
	for i := range 200 {
		secrets = append(secrets, Secret{fmt.Sprintf("s%d", i), fmt.Sprintf("%07d", 1000000+i)},
			Secret{fmt.Sprintf("n%d", i), fmt.Sprintf("Name%dx", i)})
	}
	s := Must(secrets...)
	blob := make([]byte, 3<<20)
	_, err := rand.Read(blob)
	require.NoError(t, err)
	assert.Empty(t, s.Scan("random", []byte(base64.StdEncoding.EncodeToString(blob))))
}

// Wherever a secret is put into a JSON document that is then base64-encoded, it is found.
func TestPlantedSecretsAreAlwaysFound(t *testing.T) {
	r := mrand.New(mrand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_ .:/"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = letters[r.IntN(len(letters))]
		}
		return string(b)
	}
	for range 500 {
		secret := strings.TrimSpace(word(MinLen + r.IntN(30)))
		if len(secret) < MinLen {
			continue
		}
		s := Must(Secret{"x", secret})
		doc, err := json.Marshal(map[string]string{word(r.IntN(9)): word(r.IntN(40)) + secret + word(r.IntN(40))})
		require.NoError(t, err)
		enc := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding}[r.IntN(3)]
		text := word(r.IntN(50)) + `"` + enc.EncodeToString(doc) + `"` + word(r.IntN(50))
		assert.NotEmpty(t, s.Scan("doc", []byte(text)), "%q in %q", secret, doc)
	}
}

// A finding names the secret and never shows its value, in any form, even when the value is
// repeated near the match or cut by the window's edge.
func TestFindingNeverShowsTheSecret(t *testing.T) {
	token := "3f9a1c0d5e7b2a4c6e8f0a1b"
	s := Must(Secret{"codec token", token})
	text := "Authorization: Bearer " + token + " x" + token[:20] + " " + token + strings.Repeat(".", 5) + token
	got := s.Scan("log", []byte(text))
	require.Len(t, got, 1)
	assert.Equal(t, 3, got[0].Count)
	for _, f := range got {
		for _, part := range []string{token, token[:12], token[12:]} {
			assert.NotContains(t, f.String(), part)
		}
		assert.Contains(t, f.String(), "codec token (clear) in log")
	}
}

func TestNewRefusesSecretsThatProveNothing(t *testing.T) {
	_, err := New()
	assert.ErrorContains(t, err, "no secrets")
	_, err = New(Secret{"pw", "guest"}, Secret{"", "long enough"})
	require.Error(t, err)
	assert.ErrorContains(t, err, `secret "pw" is 5 bytes, at least 6`)
	assert.ErrorContains(t, err, "a secret has no name")
	assert.NotContains(t, err.Error(), "guest", "the error does not show the value either")
}

// A key's raw bytes are a secret as they are, white space and invalid UTF-8 included; in a
// text they appear as their base64, the keys file's line.
func TestRawKeyBytesAreFoundAsTheirBase64(t *testing.T) {
	for range 50 {
		key := make([]byte, 32)
		_, err := rand.Read(key)
		require.NoError(t, err)
		key[0], key[31] = ' ', '\n'
		s, err := New(Secret{"codec key", string(key)})
		require.NoError(t, err)
		line := "dev-20261130:" + base64.StdEncoding.EncodeToString(key)
		got := s.Scan("config dump", []byte(`{"msg":"config","keys":"`+line+`"}`))
		require.NotEmpty(t, got)
		assert.Equal(t, FormBase64, got[0].Form)
	}
}

func TestScanFile(t *testing.T) {
	s := Must(Secret{"sample name", sample})
	path := filepath.Join(t.TempDir(), "worker.log")
	require.NoError(t, os.WriteFile(path, []byte("ok\n"+sample+"\n"), 0o600))
	got, err := s.ScanFile(path)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, path, got[0].Source)
	_, err = s.ScanFile(filepath.Join(t.TempDir(), "missing.log"))
	assert.ErrorContains(t, err, "missing.log")
}
