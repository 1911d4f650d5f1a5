package bridge

// RecordMarkerPrefix holds one marker per processed archive. It is outside every
// dataset=<id>/ prefix, so a dataset's listing never sees it.
const RecordMarkerPrefix = RawJSONPrefix + "_records/"

// RecordMarkerKey is the marker written LAST for a processed record (valid or invalid):
// raw_json/_records/<recordid>.json. A sweep skips archives whose marker exists.
func RecordMarkerKey(recordID string) string { return RecordMarkerPrefix + recordID + ".json" }

// RecordSummary is the marker's content: what stage 1 did with the record. It holds no S3
// metadata values (healthcode is sensitive).
type RecordSummary struct {
	RecordID     string           `json:"recordid"`
	SourceBucket string           `json:"source_bucket"`
	SourceKey    string           `json:"source_key"`
	Datasets     []DatasetWritten `json:"datasets"`
	Unmapped     []string         `json:"unmapped"`
	Invalid      bool             `json:"invalid"`
	// InvalidFiles counts each failing file's errors (all of them, not only the ones sent).
	InvalidFiles map[string]int `json:"invalid_files,omitempty"`
}

// DatasetWritten is one NDJSON object written for a record.
type DatasetWritten struct {
	Dataset string `json:"dataset"`
	Key     string `json:"key"`
	Lines   int    `json:"lines"`
}
