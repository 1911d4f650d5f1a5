package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/temporal"
)

func keyring(t *testing.T, ids ...string) *Keyring {
	t.Helper()
	var specs []string
	for _, id := range ids {
		spec, err := GenerateKey(id)
		require.NoError(t, err)
		specs = append(specs, spec)
	}
	return keyringFrom(t, strings.Join(specs, ","))
}

func keyringFrom(t *testing.T, spec string) *Keyring {
	t.Helper()
	keys, err := ParseKeys(spec)
	require.NoError(t, err)
	k, err := NewKeyring(keys...)
	require.NoError(t, err)
	return k
}

const marker = "SAMPLE-Diag-wgs123-PLANTED"

func TestRoundTripHidesClearText(t *testing.T) {
	dc := DataConverter(keyring(t, "k1"))
	p, err := dc.ToPayload(map[string]string{"sample": marker})
	require.NoError(t, err)
	assert.NotContains(t, string(p.Data), marker)
	assert.Equal(t, EncodingEncrypted, string(p.Metadata[MetadataEncoding]))
	assert.Equal(t, "k1", string(p.Metadata[MetadataEncryptionKey]))
	var back map[string]string
	require.NoError(t, dc.FromPayload(p, &back))
	assert.Equal(t, marker, back["sample"])
}

func TestRotationNewKeyEncryptsOldKeysStillDecrypt(t *testing.T) {
	oldSpec, err := GenerateKey("2026-01")
	require.NoError(t, err)
	p, err := DataConverter(keyringFrom(t, oldSpec)).ToPayload(marker)
	require.NoError(t, err)

	newSpec, err := GenerateKey("2026-06")
	require.NoError(t, err)
	rotated := keyringFrom(t, newSpec+"\n"+oldSpec) // the new key first: it encrypts

	var s string
	require.NoError(t, DataConverter(rotated).FromPayload(p, &s))
	assert.Equal(t, marker, s)
	p2, err := DataConverter(rotated).ToPayload(marker)
	require.NoError(t, err)
	assert.Equal(t, "2026-06", string(p2.Metadata[MetadataEncryptionKey]))

	// A keyring without the old key names the key it lacks.
	err = DataConverter(keyring(t, "other")).FromPayload(p, &s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"2026-01"`)
}

func TestTamperedPayloadIsRejected(t *testing.T) {
	c := &Codec{Keys: keyring(t, "k1")}
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte(marker)}})
	require.NoError(t, err)
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	_, err = c.Decode(enc)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decrypt")
}

func TestFailureMessagesAreEncrypted(t *testing.T) {
	dc := DataConverter(keyring(t, "k1"))
	fc := FailureConverter(dc)
	f := fc.ErrorToFailure(temporal.NewApplicationError("checksum mismatch for "+marker+".fastq", "ChecksumMismatch"))
	raw, err := json.Marshal(f)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), marker, "message and stack trace travel encrypted")
	back := fc.FailureToError(f)
	var app *temporal.ApplicationError
	require.True(t, errors.As(back, &app))
	assert.Contains(t, app.Error(), marker)
}

func TestParseKeysErrors(t *testing.T) {
	_, err := ParseKeys("nocolon")
	assert.ErrorContains(t, err, "not id:base64")
	_, err = ParseKeys("k1:!!!")
	assert.ErrorContains(t, err, `key "k1" is not valid base64`)
	_, err = NewKeyring(Key{ID: "short", Secret: []byte("x")})
	assert.ErrorContains(t, err, "AES-256 needs 32")
	_, err = NewKeyring()
	assert.ErrorContains(t, err, "no encryption key")
	keys, err := ParseKeys("# comment\n k1:" + strings.Repeat("A", 43) + "=\n")
	require.NoError(t, err)
	assert.Len(t, keys, 1)
}

func TestServerRequiresTokenAndAnswersCORS(t *testing.T) {
	keys := keyring(t, "k1")
	srv := httptest.NewServer(NewServer(keys, ServerOptions{Token: "s3cret", AllowedOrigins: []string{"http://127.0.0.1:8233/"}, UIPathToken: true}))
	defer srv.Close()
	strict := httptest.NewServer(NewServer(keys, ServerOptions{Token: "s3cret"}))
	defer strict.Close()
	enc, err := (&Codec{Keys: keys}).Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"` + marker + `"`)}})
	require.NoError(t, err)
	reqBody, err := json.Marshal(map[string]any{"payloads": []map[string]any{{
		"metadata": map[string][]byte{MetadataEncoding: enc[0].Metadata[MetadataEncoding], MetadataEncryptionKey: enc[0].Metadata[MetadataEncryptionKey]},
		"data":     enc[0].Data,
	}}})
	require.NoError(t, err)

	post := func(path, auth string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(reqBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	resp, out := post("/decode", "Bearer s3cret")
	assert.Equal(t, http.StatusOK, resp.StatusCode, out)
	assert.Contains(t, out, base64.StdEncoding.EncodeToString([]byte(`"`+marker+`"`)), "decoded payload returned")
	assert.Contains(t, out, base64.StdEncoding.EncodeToString([]byte("json/plain")))

	resp, _ = post("/s3cret/decode", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "token as the first path segment (Web UI endpoint, UIPathToken)")
	req, _ := http.NewRequest(http.MethodPost, strict.URL+"/s3cret/decode", bytes.NewReader(reqBody))
	req.Header.Set("Content-Type", "application/json")
	strictResp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	strictResp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, strictResp.StatusCode, "a path-embedded token is refused by default")

	resp, out = post("/decode", "Bearer wrong")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.NotContains(t, out, marker)
	resp, _ = post("/decode", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	req, _ = http.NewRequest(http.MethodOptions, srv.URL+"/s3cret/decode", nil)
	req.Header.Set("Origin", "http://127.0.0.1:8233")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "http://127.0.0.1:8233", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")
}
