package gitlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrNoPipeline means the tag has no pipeline yet or at all; retrying will not create it.
var ErrNoPipeline = errors.New("no pipeline")

// ErrUnknownJob means the pipeline has no job of the configured name, a configuration
// mistake rather than a transient failure.
var ErrUnknownJob = errors.New("unknown job")

// APIError is a non-2xx answer from GitLab. URL never holds the token, which travels in a
// header, so the error is safe to log.
type APIError struct {
	Method, URL string
	Status      int
	// Message is GitLab's {"message": ...} or {"error": ...}, else the body's start.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("gitlab: %s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Message)
}

// JobFailedError reports a job that ended without success; WebURL leads to its log.
type JobFailedError struct {
	Job Job
}

func (e *JobFailedError) Error() string {
	return fmt.Sprintf("gitlab: job %s (#%d) of pipeline %d ended %s: %s",
		e.Job.Name, e.Job.ID, e.Job.Pipeline.ID, e.Job.Status, e.Job.WebURL)
}

// IsNotRetryable reports errors that repeating the same call cannot fix: bad credentials,
// a missing project or file, a failed job, a tag without pipeline, an unknown job name.
// Workflows use it to fail fast instead of retrying for hours.
func IsNotRetryable(err error) bool {
	var api *APIError
	if errors.As(err, &api) {
		switch api.Status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return true
		}
		return false
	}
	var failed *JobFailedError
	return errors.As(err, &failed) || errors.Is(err, ErrNoPipeline) || errors.Is(err, ErrUnknownJob)
}

// maxErrorBody bounds how much of an error body is read and quoted.
const maxErrorBody = 4 << 10

func newAPIError(method string, u *url.URL, resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &APIError{Method: method, URL: u.Redacted(), Status: resp.StatusCode, Message: errorMessage(body, resp.Status)}
}

// errorMessage extracts GitLab's explanation: "message" is a string or, for validation
// errors, an object; some endpoints use "error".
func errorMessage(body []byte, status string) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		for _, key := range []string{"message", "error"} {
			raw, ok := fields[key]
			if !ok {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s
			}
			var compact bytes.Buffer
			if json.Compact(&compact, raw) == nil {
				return compact.String()
			}
		}
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		return status
	}
	const maxLen = 200
	if len(text) > maxLen {
		text = text[:maxLen] + "…"
	}
	return text
}
