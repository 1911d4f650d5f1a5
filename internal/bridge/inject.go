package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ArchiveMeta is an archive's S3 object metadata as the pipeline reads it: the record it
// belongs to, its assessment and revision, and the partition its upload day gives. Metadata
// holds every key (lower-case), some sensitive (healthcode): it goes into the
// ArchiveMetadata dataset, as the original, and never into logs or results.
type ArchiveMeta struct {
	RecordID     string
	AssessmentID string
	Revision     int
	Partition    Partition
	Metadata     map[string]string
}

// ParseArchiveMeta reads the keys the pipeline needs (recordid, assessmentid,
// assessmentrevision, uploadedon) from an archive's S3 metadata; its error names the key
// at fault, never another key's value.
func ParseArchiveMeta(md map[string]string) (ArchiveMeta, error) {
	low := make(map[string]string, len(md))
	for k, v := range md {
		lk := strings.ToLower(k)
		if _, dup := low[lk]; dup {
			// Two keys differing in case only: which one wins would depend on map order.
			return ArchiveMeta{}, fmt.Errorf("S3 metadata has the key %s twice (differing in case)", lk)
		}
		low[lk] = v
	}
	for _, k := range []string{"recordid", "assessmentid", "assessmentrevision", "uploadedon"} {
		if low[k] == "" {
			return ArchiveMeta{}, fmt.Errorf("S3 metadata has no %s", k)
		}
	}
	if err := CheckRecordID(low["recordid"]); err != nil {
		return ArchiveMeta{}, fmt.Errorf("S3 metadata recordid: %w", err)
	}
	rev, err := strconv.Atoi(low["assessmentrevision"])
	if err != nil || rev < 0 {
		return ArchiveMeta{}, fmt.Errorf("S3 metadata assessmentrevision %q is not a revision number", low["assessmentrevision"])
	}
	p, err := PartitionOf(low["assessmentid"], low["uploadedon"])
	if err != nil {
		return ArchiveMeta{}, fmt.Errorf("S3 metadata: %w", err)
	}
	return ArchiveMeta{RecordID: low["recordid"], AssessmentID: low["assessmentid"], Revision: rev, Partition: p, Metadata: low}, nil
}

// SchemaIdentifier is the part of a dataset id before the first "_" (ArchiveMetadata_v1 →
// ArchiveMetadata), which decides what is injected.
func SchemaIdentifier(dataset string) string {
	id, _, _ := strings.Cut(dataset, "_")
	return id
}

// Inject adds the fields the original injects to doc (from DecodeJSON) of a file written to
// dataset, and returns the documents that become the NDJSON lines:
//   - ArchiveMetadata datasets: year, month, day (numbers) and then every S3 metadata key
//     (strings, overriding the file's own fields of that name); doc must be an object.
//   - any other dataset: assessmentid, year, month, day and recordid, into doc when it is an
//     object, into each element when it is a list (each element then is a line of its own:
//     the original's array-of-records crawler read one row per element). Elements must be
//     objects.
//
// The error names the file and the element at fault.
func Inject(file, dataset string, doc any, meta ArchiveMeta) ([]map[string]any, error) {
	p := meta.Partition
	if SchemaIdentifier(dataset) == "ArchiveMetadata" {
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is a JSON %s; dataset %s needs an object", file, kindOf(doc), dataset)
		}
		obj["year"], obj["month"], obj["day"] = p.Year, p.Month, p.Day
		for k, v := range meta.Metadata {
			obj[k] = v
		}
		return []map[string]any{obj}, nil
	}
	inject := func(obj map[string]any) {
		obj["assessmentid"] = meta.AssessmentID
		obj["year"], obj["month"], obj["day"] = p.Year, p.Month, p.Day
		obj["recordid"] = meta.RecordID
	}
	switch v := doc.(type) {
	case map[string]any:
		inject(v)
		return []map[string]any{v}, nil
	case []any:
		out := make([]map[string]any, 0, len(v))
		for i, el := range v {
			obj, ok := el.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s element %d is a JSON %s; a list must hold objects", file, i, kindOf(el))
			}
			inject(obj)
			out = append(out, obj)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s is a JSON %s; it must be an object or a list of objects", file, kindOf(doc))
	}
}

// AppendNDJSON appends each document as one line of compact JSON (keys sorted, numbers as
// written, no HTML escaping).
func AppendNDJSON(buf *bytes.Buffer, docs []map[string]any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil { // Encode ends the line
			return err
		}
	}
	return nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "list"
	default:
		return "object"
	}
}
