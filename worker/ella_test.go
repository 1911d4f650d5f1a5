package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/activities"
	"github.com/opsflow/opsflow/internal/config"
)

// The worker's e-mail templates are the defaults with the file's in place of their namesakes;
// a template naming a field EllaMailInput does not have stops the worker at start.
func TestEllaMailTemplatesRenderAtStart(t *testing.T) {
	got, err := ellaMailTemplates(map[string]config.EllaMailTemplate{
		activities.EllaMailPlanned: {Subject: "ELLA {{.Version}} ({{.Window}})", Body: "Nedetid {{.Window}}.\n"}})
	require.NoError(t, err)
	defaults := activities.DefaultEllaMailTemplates()
	assert.Len(t, got, len(defaults))
	assert.Equal(t, "ELLA {{.Version}} ({{.Window}})", got[activities.EllaMailPlanned].Subject)
	assert.Equal(t, defaults[activities.EllaMailBack], got[activities.EllaMailBack])

	_, err = ellaMailTemplates(map[string]config.EllaMailTemplate{activities.EllaMailBack: {Subject: "ELLA {{.Versoin}}", Body: "b"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `template "back" subject`)
	assert.Contains(t, err.Error(), "Versoin")

	_, err = ellaMailTemplates(map[string]config.EllaMailTemplate{"bakc": {Subject: "s", Body: "b"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no e-mail is called "bakc"`)
}
