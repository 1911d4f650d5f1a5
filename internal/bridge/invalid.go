package bridge

import (
	"encoding/json"
	"sort"
)

// MaxErrorsPerFile is how many validation errors of one file the invalid queue's message
// carries, as the original ("to avoid redundant errors").
const MaxErrorsPerFile = 10

// ValidationResult is the original's validation_result: the record, its assessment, and
// each failing file's first MaxErrorsPerFile errors. SchemaURL is the schema reference of
// the first failing file (in name order); the original left it empty.
type ValidationResult struct {
	AssessmentID       string              `json:"assessmentId"`
	AssessmentRevision int                 `json:"assessmentRevision"`
	AppID              string              `json:"appId"`
	RecordID           string              `json:"recordId"`
	SchemaURL          string              `json:"schema_url"`
	Errors             map[string][]string `json:"errors"`
}

// InvalidMessage is what goes to the invalid queue for a record that failed validation: the
// message that asked for the archive (its bucket and key, the original's source_bucket and
// source_key) plus validation_result.
type InvalidMessage struct {
	SourceBucket     string           `json:"source_bucket"`
	SourceKey        string           `json:"source_key"`
	ValidationResult ValidationResult `json:"validation_result"`
}

// NewValidationResult starts an empty (valid) result for the archive's record.
func NewValidationResult(appID string, meta ArchiveMeta) ValidationResult {
	return ValidationResult{AssessmentID: meta.AssessmentID, AssessmentRevision: meta.Revision, AppID: appID,
		RecordID: meta.RecordID, Errors: map[string][]string{}}
}

// Add records a file's errors (nothing when there are none), keeping the first MaxErrorsPerFile.
func (v *ValidationResult) Add(file, schemaRef string, errs []string) {
	if len(errs) == 0 {
		return
	}
	v.Errors[file] = append([]string(nil), errs[:min(len(errs), MaxErrorsPerFile)]...)
	files := make([]string, 0, len(v.Errors))
	for f := range v.Errors {
		files = append(files, f)
	}
	sort.Strings(files)
	if files[0] == file {
		v.SchemaURL = schemaRef
	}
}

// Invalid reports whether any file failed.
func (v *ValidationResult) Invalid() bool { return len(v.Errors) > 0 }

// Body is the message's JSON.
func (m InvalidMessage) Body() (string, error) {
	b, err := json.Marshal(m)
	return string(b), err
}
