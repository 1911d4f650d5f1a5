// Package checksum computes and verifies file digests, so that release artifacts and
// sample packages are only used once they are known to be exactly what was published.
package checksum

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
)

// Algorithm names, as used in error messages and accepted by NormalizeHex.
const (
	SHA256 = "sha256"
	MD5    = "md5"
)

// SHA256File returns the lowercase hex SHA-256 digest and the size of the file at path,
// reading it once, so callers can check both against a release manifest.
func SHA256File(path string) (sum string, size int64, err error) {
	return hashFile(path, sha256.New())
}

// SHA256Reader returns the lowercase hex SHA-256 digest and length of r's content, for
// data that is streamed rather than stored, such as a download in progress.
func SHA256Reader(r io.Reader) (sum string, size int64, err error) {
	return hashReader(r, sha256.New())
}

// MD5File returns the lowercase hex MD5 digest and the size of the file at path. MD5 is
// not collision resistant; it exists because sample packages list per-file MD5 and size.
func MD5File(path string) (sum string, size int64, err error) {
	return hashFile(path, md5.New())
}

func hashFile(path string, h hash.Hash) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
	sum, size, err := hashReader(f, h)
	if err != nil {
		return "", 0, fmt.Errorf("checksum: reading %s: %w", path, err)
	}
	return sum, size, nil
}

func hashReader(r io.Reader, h hash.Hash) (string, int64, error) {
	size, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}
