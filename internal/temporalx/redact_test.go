package temporalx

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactingLoggerKeepsErrorTypeDropsText(t *testing.T) {
	var buf bytes.Buffer
	log := NewRedactingLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	log.Error("Activity error.", "ActivityType", "PlanRelease",
		"Error", errors.New(`unknown site "sample-NA12878" (configured: [nsc tsd]) (type: UnknownSite, retryable: false)`))
	log.With("error", errors.New("open /data/sample-NA12878.fastq: no such file")).Warn("plain error")
	out := buf.String()
	assert.NotContains(t, out, "NA12878")
	assert.Contains(t, out, `"Error":"redacted (type: UnknownSite, retryable: false)"`)
	assert.Contains(t, out, `"ActivityType":"PlanRelease"`)
	assert.Contains(t, out, `"error":"redacted (see the run's history through the codec server)"`)
}
