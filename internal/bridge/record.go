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

// RefusedMarkerKey is where the refusal of a record's archive is recorded (a truncated or
// unsafe archive, a bomb, malformed JSON): raw_json/_refused/<recordid>.json. No dataset is
// written for such a record; the marker keeps the sweep from trying it again and again, until
// an operator replaces the archive and deletes the marker.
func RefusedMarkerKey(recordID string) string {
	return RawJSONPrefix + "_refused/" + recordID + ".json"
}

// Refusal is a refused marker's content.
type Refusal struct {
	RecordID     string `json:"recordid"`
	SourceBucket string `json:"source_bucket"`
	SourceKey    string `json:"source_key"`
	// ErrorType is the refusal's error type (e.g. BridgeUnsafeArchive), Reason its message.
	ErrorType string `json:"error_type"`
	Reason    string `json:"reason"`
}
