package samplepkg

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/opsflow/opsflow/internal/ident"
)

// Kind is what a package holds. It decides the package's key prefix on the TSD S3 endpoint,
// the description file that lists its content, and where it lands in the durable area. The
// values are the export area's (and the durable area's) directory names.
type Kind string

// The kinds the nsc-exporter uploads and the filelock-exporter imports.
const (
	KindSample       Kind = "samples"
	KindAnalysis     Kind = "analyses"
	KindEllaIncoming Kind = "ella-incoming"
	KindBackup       Kind = "backup"
)

// Kinds lists every kind in scan order.
var Kinds = []Kind{KindSample, KindAnalysis, KindEllaIncoming, KindBackup}

// ParseKind accepts one of Kinds; "" means KindSample (the import's original, samples-only form).
func ParseKind(s string) (Kind, error) {
	if s == "" {
		return KindSample, nil
	}
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("package kind %q is not one of samples, analyses, ella-incoming, backup", s)
}

// DescriptionFile is the JSON file the package must hold before it counts as written: the
// .sample of a sample, the .analysis of an analysis; "" when the kind has none.
func (k Kind) DescriptionFile(name string) string {
	switch k {
	case KindSample:
		return name + ".sample"
	case KindAnalysis:
		return name + ".analysis"
	}
	return ""
}

// MarksReady tells whether the automation system waits for a READY marker in this kind's
// published directory (samples, analyses and ELLA's incoming folders; backups are only stored).
func (k Kind) MarksReady() bool { return k != KindBackup }

// ObjectPrefix is where a package's files are on the TSD S3 endpoint: <kind>/<name>/.
func ObjectPrefix(k Kind, name string) string { return string(k) + "/" + name + "/" }

// ManifestPrefix holds every manifest. It cannot clash with a kind's prefix.
const ManifestPrefix = "manifests/"

// ManifestKey is the object the uploader writes last: its presence means every file of the
// package is uploaded, and it lists each with its size and SHA-256.
func ManifestKey(k Kind, name string) string {
	return ManifestPrefix + string(k) + "/" + name + ".json"
}

// ParseManifestKey is ManifestKey's inverse; it refuses keys of unknown kinds and unsafe names.
func ParseManifestKey(key string) (Kind, string, error) {
	rest, ok := strings.CutPrefix(key, ManifestPrefix)
	kind, file, ok2 := strings.Cut(rest, "/")
	name, ok3 := strings.CutSuffix(file, ".json")
	if !ok || !ok2 || !ok3 {
		return "", "", fmt.Errorf("object %q is not a manifest key (%s<kind>/<name>.json)", key, ManifestPrefix)
	}
	k, err := ParseKind(kind)
	if err != nil || kind == "" {
		return "", "", fmt.Errorf("manifest %q: unknown package kind %q", key, kind)
	}
	if err := CheckName(name); err != nil {
		return "", "", fmt.Errorf("manifest %q: %w", key, err)
	}
	return k, name, nil
}

// PublishedDirOf is where a verified package of kind k is published in the durable area:
// <durable>/<kind>/<name>.
func (l Layout) PublishedDirOf(k Kind, name string) string {
	return filepath.Join(l.Durable, string(k), name)
}

// QuarantineRoot holds packages that failed verification, each with a report; a package
// quarantined is not imported again until an operator removes its directory.
func (l Layout) QuarantineRoot() string { return filepath.Join(l.Durable, ".quarantine") }

// QuarantineDir is the quarantine directory of the package with id (its hash, never its name).
func (l Layout) QuarantineDir(k Kind, id string) string {
	return filepath.Join(l.QuarantineRoot(), string(k), id)
}

// KindID is the keyed hash naming a package of kind k in workflow ids and search attributes.
// A sample keeps ID(h, name), the form `opsflow find --package` queries; other kinds hash
// "<kind>/<name>", so a sample and an analysis of the same name never share an id.
func KindID(h *ident.Hasher, k Kind, name string) string {
	if k == KindSample || k == "" {
		return ID(h, name)
	}
	return h.ID(idKind, string(k)+"/"+name)
}
