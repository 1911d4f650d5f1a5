package checksum

import (
	"fmt"
	"strings"
)

// MismatchError reports a file whose digest differs from the expected one, with both
// values, so an operator can tell a corrupt download from a wrong manifest entry.
type MismatchError struct {
	Path, Algorithm, Want, Got string
}

// Error shows both digests, so the manifest entry and the file can be compared at a glance.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch for %s: want %s, got %s", e.Algorithm, e.Path, e.Want, e.Got)
}

// SizeMismatchError reports a file whose size differs from the expected one; it is the
// clearer diagnosis for truncated or padded files, so it is reported in preference to a
// digest mismatch.
type SizeMismatchError struct {
	Path      string
	Want, Got int64
}

// Error shows both sizes, which tells a truncated download from a wrong file.
func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("size mismatch for %s: want %d bytes, got %d", e.Path, e.Want, e.Got)
}

// VerifySHA256 checks the file at path against the hex digest want (any case), returning
// a *MismatchError when it differs.
func VerifySHA256(path, want string) error {
	want, err := NormalizeHex(SHA256, want)
	if err != nil {
		return err
	}
	got, _, err := SHA256File(path)
	if err != nil {
		return err
	}
	return compare(path, SHA256, want, got)
}

// VerifyMD5 checks the file at path against the hex digest want (any case) and, unless
// wantSize is negative, against wantSize, as sample package manifests list both. A wrong
// size yields a *SizeMismatchError, a wrong digest a *MismatchError.
func VerifyMD5(path, want string, wantSize int64) error {
	want, err := NormalizeHex(MD5, want)
	if err != nil {
		return err
	}
	got, size, err := MD5File(path)
	if err != nil {
		return err
	}
	if wantSize >= 0 && size != wantSize {
		return &SizeMismatchError{Path: path, Want: wantSize, Got: size}
	}
	return compare(path, MD5, want, got)
}

func compare(path, algorithm, want, got string) error {
	if got != want {
		return &MismatchError{Path: path, Algorithm: algorithm, Want: want, Got: got}
	}
	return nil
}

// NormalizeHex validates a hex digest for algorithm (SHA256 or MD5) and returns it
// lowercased without surrounding whitespace, so that digests copied from manifests,
// web pages or sha256sum output compare equal to computed ones.
func NormalizeHex(algorithm, digest string) (string, error) {
	var length int
	switch algorithm {
	case SHA256:
		length = 64
	case MD5:
		length = 32
	default:
		return "", fmt.Errorf("checksum: unsupported algorithm %q (want %q or %q)", algorithm, SHA256, MD5)
	}
	d := strings.ToLower(strings.TrimSpace(digest))
	if len(d) != length || strings.Trim(d, "0123456789abcdef") != "" {
		return "", fmt.Errorf("checksum: %s digest must be %d hex characters, got %q", algorithm, length, digest)
	}
	return d, nil
}
