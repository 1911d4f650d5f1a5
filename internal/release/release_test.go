package release

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVersionAcceptsReleaseTags(t *testing.T) {
	v, err := ParseVersion("v1.4.0-rel")
	require.NoError(t, err)
	assert.Equal(t, Version{1, 4, 0}, v)
	assert.Equal(t, "v1.4.0-rel", v.Tag())
	v, err = ParseVersion("v10.0.23-rel")
	require.NoError(t, err)
	assert.Equal(t, Version{10, 0, 23}, v)
}

func TestParseVersionRejectsMalformedTags(t *testing.T) {
	cases := map[string]string{
		"1.4.0-rel":    "must start with v",
		"v1.4.0":       "must end with -rel",
		"v1.4-rel":     "not of the form",
		"v01.4.0-rel":  "not of the form",
		"v1.4.0-rel ":  "whitespace",
		"v1.4.0-rc1":   "must end with -rel",
		"":             "not of the form",
		"v1.4.0-rel;x": "must end with -rel",
	}
	for tag, want := range cases {
		_, err := ParseVersion(tag)
		require.Error(t, err, tag)
		assert.Contains(t, err.Error(), want, tag)
		assert.Contains(t, err.Error(), `"`+tag+`"`, "error names the tag")
	}
}

func TestVersionOrder(t *testing.T) {
	assert.True(t, Version{1, 2, 3}.Less(Version{1, 3, 0}))
	assert.True(t, Version{1, 9, 9}.Less(Version{2, 0, 0}))
	assert.False(t, Version{1, 2, 3}.Less(Version{1, 2, 3}))
}

func TestChangedComponents(t *testing.T) {
	components := []string{"lims-exporter/", "nsc-exporter/", "bin/nsc-exporter"}
	assert.Equal(t, []string{"bin/nsc-exporter", "lims-exporter/"},
		ChangedComponents([]string{"lims-exporter/main.py", "README.md", "bin/nsc-exporter"}, components))
	assert.Empty(t, ChangedComponents([]string{"filelock-exporter/x.py", "lims-exporterX/y"}, components))
	assert.Equal(t, []string{"nsc"}, ChangedComponents([]string{"nsc/a"}, []string{"nsc"}), "prefix without slash matches a directory")
}
