// Package ident turns identifiers that can be sensitive (sample, package, person) into
// keyed hashes for the places the payload codec does not cover: workflow ids, search
// attributes and logs. The same key gives the same hash, so `opsflow find --sample X`
// finds a run without the name ever being stored in clear.
package ident

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Prefix marks a hashed identifier, so nobody mistakes it for a real name.
const Prefix = "h-"

// Hasher hashes identifiers with a deployment's secret key, or passes them through when
// the deployment declared its identifiers not sensitive.
type Hasher struct {
	key       []byte
	sensitive bool
}

// NewHasher needs a key of at least 16 bytes when identifiers are sensitive.
func NewHasher(key []byte, sensitive bool) (*Hasher, error) {
	if sensitive && len(key) < 16 {
		return nil, errors.New("ident: identifier key must be at least 16 bytes (OPSFLOW_IDENTIFIER_KEY) while identifiers are sensitive")
	}
	return &Hasher{key: key, sensitive: sensitive}, nil
}

// ID returns the form of an identifier that may appear outside encrypted payloads:
// "h-" + the first 16 hex digits of HMAC-SHA256(key, kind + ":" + value).
func (h *Hasher) ID(kind, value string) string {
	if !h.sensitive {
		return value
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(kind + ":" + value))
	return Prefix + hex.EncodeToString(m.Sum(nil))[:16]
}
