package samplepkg

import (
	"fmt"

	"github.com/opsflow/opsflow/internal/checksum"

	"github.com/opsflow/opsflow/internal/jsonstrict"
)

// SampleFile is the part of a package's <name>.sample JSON that lists its reads. The exporters
// write more (sample_id, project, flowcell, lane, stats, ...); the import needs only the reads.
type SampleFile struct {
	Name  string `json:"name"`
	Reads []Read `json:"reads"`
}

// Read is one listed read: its path inside the package, MD5 (lowercase hex once parsed) and size.
type Read struct {
	Path string `json:"path"`
	MD5  string `json:"md5"`
	Size int64  `json:"size"`
}

// ParseSampleFile reads the content of file (named in errors): valid JSON, at least one read,
// every read's path safe and its MD5 a well-formed digest.
func ParseSampleFile(file string, data []byte) (SampleFile, error) {
	var sf SampleFile
	if err := jsonstrict.Decode(data, &sf, jsonstrict.Options{}); err != nil {
		return SampleFile{}, fmt.Errorf("%s is not valid JSON: %w", file, err)
	}
	if len(sf.Reads) == 0 {
		return SampleFile{}, fmt.Errorf("%s lists no reads", file)
	}
	for i, r := range sf.Reads {
		if !SafePath(r.Path) {
			return SampleFile{}, fmt.Errorf("%s: read %d has an unsafe path %q", file, i, r.Path)
		}
		sum, err := checksum.NormalizeHex(checksum.MD5, r.MD5)
		if err != nil {
			return SampleFile{}, fmt.Errorf("%s: read %s: %w", file, r.Path, err)
		}
		sf.Reads[i].MD5 = sum
	}
	return sf, nil
}
