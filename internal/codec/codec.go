// Package codec encrypts every Temporal payload opsflow writes (inputs, results, heartbeat
// details, failure messages), because sample ids, trainee names and GMC numbers must never
// sit in workflow history in clear. AES-256-GCM, the key id travels in payload metadata, so
// keys rotate: the active key encrypts, every listed key still decrypts.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Metadata keys and values written on encrypted payloads.
const (
	MetadataEncoding      = converter.MetadataEncoding
	EncodingEncrypted     = "binary/encrypted"
	MetadataEncryptionKey = "encryption-key-id"
)

// Key is one AES-256 key and its id.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring holds the active key (first) and older keys kept for decryption.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
	order  []string
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// NewKeyring takes keys with the active one first.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: no encryption key configured (OPSFLOW_CODEC_KEYS or OPSFLOW_CODEC_KEYS_FILE)")
	}
	k := &Keyring{active: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, key := range keys {
		if !keyIDRE.MatchString(key.ID) {
			return nil, fmt.Errorf("codec: key id %q must be 1-64 letters, digits, '.', '_' or '-'", key.ID)
		}
		if len(key.Secret) != 32 {
			return nil, fmt.Errorf("codec: key %q is %d bytes, AES-256 needs 32", key.ID, len(key.Secret))
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("codec: key id %q listed twice", key.ID)
		}
		block, err := aes.NewCipher(key.Secret)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[key.ID] = aead
		k.order = append(k.order, key.ID)
	}
	return k, nil
}

// ActiveKeyID is the key new payloads are encrypted with.
func (k *Keyring) ActiveKeyID() string { return k.active }

// ParseKeys reads "id:base64key" entries separated by commas or newlines; '#' starts a comment.
func ParseKeys(spec string) ([]Key, error) {
	var keys []Key
	for _, line := range strings.FieldsFunc(spec, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("codec: key entry %q is not id:base64", redact(line))
		}
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("codec: key %q is not valid base64: %w", id, err)
		}
		keys = append(keys, Key{ID: strings.TrimSpace(id), Secret: secret})
	}
	return keys, nil
}

// LoadKeyring reads keys from a file when path is set, else from the spec string.
func LoadKeyring(path, spec string) (*Keyring, error) {
	if path != "" {
		if err := PrivateFile(path); err != nil {
			return nil, fmt.Errorf("codec: keys file: %w", err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("codec: keys file: %w", err)
		}
		spec = string(data)
	}
	keys, err := ParseKeys(spec)
	if err != nil {
		return nil, err
	}
	return NewKeyring(keys...)
}

// GenerateKey returns a fresh random key, for `opsflow codec-key`.
func GenerateKey(id string) (string, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(secret), nil
}

// Codec is the converter.PayloadCodec that encrypts with the active key.
type Codec struct{ Keys *Keyring }

// Encode encrypts each payload whole (metadata included) with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	aead := c.Keys.aeads[c.Keys.active]
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding:      []byte(EncodingEncrypted),
				MetadataEncryptionKey: []byte(c.Keys.active),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.Keys.active)),
		}
	}
	return out, nil
}

// Decode decrypts encrypted payloads and passes others through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataEncryptionKey])
		aead, ok := c.Keys.aeads[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload encrypted with key %q, which is not in the keyring (have %v)", id, c.Keys.order)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("codec: encrypted payload too short (%d bytes)", len(data))
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: decrypt payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := decoded.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("codec: unmarshal decrypted payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter wraps the default converter with the codec.
func DataConverter(keys *Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), &Codec{Keys: keys})
}

// FailureConverter also encrypts failure messages and stack traces, since error texts name
// files and samples.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})
}

func redact(s string) string {
	if id, _, ok := strings.Cut(s, ":"); ok {
		return id + ":…"
	}
	if len(s) > 8 {
		return s[:8] + "…"
	}
	return s
}

// PrivateFile refuses a secret file (keys, token) that anyone but its owner may read or write.
func PrivateFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is %s: others may read it; chmod 600 %s", path, perm, path)
	}
	return nil
}
