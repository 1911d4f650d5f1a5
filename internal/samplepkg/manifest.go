package samplepkg

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/opsflow/opsflow/internal/checksum"

	"github.com/opsflow/opsflow/internal/jsonstrict"
)

// Manifest is the object the nsc-exporter writes last under ManifestKey: the package's every
// file with its size and SHA-256. The filelock-exporter imports only packages whose manifest
// is present, and verifies each file against it (and a sample's reads against its .sample).
type Manifest struct {
	Kind    Kind           `json:"kind"`
	Package string         `json:"package"`
	Files   []ManifestFile `json:"files"`
}

// ManifestFile is one file of the package, Path relative to the package (CheckPath).
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ParseManifest reads the manifest stored under key: valid JSON, kind and package as the key
// says, at least one file, every path safe and listed once, sizes not negative, SHA-256s
// well-formed (lowercased), and the kind's description file among the files. Files come
// back sorted by path.
func ParseManifest(key string, data []byte) (Manifest, error) {
	kind, name, err := ParseManifestKey(key)
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := jsonstrict.Decode(data, &m, jsonstrict.Options{DisallowUnknownFields: true}); err != nil {
		return Manifest{}, fmt.Errorf("manifest %s is not valid JSON: %w", key, err)
	}
	if m.Kind != kind || m.Package != name {
		return Manifest{}, fmt.Errorf("manifest %s describes %s/%s, not the package its key names", key, m.Kind, m.Package)
	}
	if len(m.Files) == 0 {
		return Manifest{}, fmt.Errorf("manifest %s lists no files", key)
	}
	seen := map[string]bool{}
	for i, f := range m.Files {
		if err := CheckPath(f.Path); err != nil {
			return Manifest{}, fmt.Errorf("manifest %s: file %d: %w", key, i, err)
		}
		if seen[f.Path] {
			return Manifest{}, fmt.Errorf("manifest %s lists %s twice", key, f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 {
			return Manifest{}, fmt.Errorf("manifest %s: %s has a negative size", key, f.Path)
		}
		sum, err := checksum.NormalizeHex(checksum.SHA256, f.SHA256)
		if err != nil {
			return Manifest{}, fmt.Errorf("manifest %s: %s: %w", key, f.Path, err)
		}
		m.Files[i].SHA256 = sum
	}
	if desc := kind.DescriptionFile(name); desc != "" && !seen[desc] {
		return Manifest{}, fmt.Errorf("manifest %s does not list %s", key, desc)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return m, nil
}

// Encode is the manifest's stored form (files sorted by path, indented for an operator).
func (m Manifest) Encode() ([]byte, error) {
	sorted := append([]ManifestFile(nil), m.Files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	m.Files = sorted
	return json.MarshalIndent(m, "", "  ")
}

// Bytes is the total size of the files listed.
func (m Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}
