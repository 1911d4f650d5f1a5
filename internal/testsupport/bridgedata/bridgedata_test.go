package bridgedata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/safearchive"
)

func open(t *testing.T, a Archive, l safearchive.ZipLimits) (*safearchive.ZipArchive, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.zip")
	require.NoError(t, os.WriteFile(p, a.Zip, 0o600))
	z, err := safearchive.OpenZip(p, l)
	if z != nil {
		t.Cleanup(func() { z.Close() })
	}
	return z, err
}

func TestArchivesAreDeterministicAndRealistic(t *testing.T) {
	s := Spec{RecordID: RecordID(7)}
	a, b := Good(s), Good(s)
	assert.Equal(t, a.Zip, b.Zip)
	assert.Len(t, a.Spec.RecordID, 24)
	assert.NotEqual(t, a.Zip, Good(Spec{RecordID: RecordID(8)}).Zip)
	assert.Equal(t, []string{"info.json", "metadata.json", "taskData.json", "taskResult.json", "motion.json", "microphone.json", "weather.json"}, a.Names)
	assert.Equal(t, a.Spec.RecordID+"-mtbSpelling.zip", a.Key())
	for _, k := range []string{"recordid", "schedulepublished", "sessionguid", "studyburstid", "assessmentid", "healthcode",
		"eventtimestamp", "sessioninstancestartday", "sessioninstanceendday", "sessionstarteventid", "assessmentrevision",
		"studyburstnum", "participantversion", "uploadedon", "assessmentguid", "sessioninstanceguid", "assessmentinstanceguid",
		"timewindowguid", "clientinfo", "instanceguid", "scheduleguid", "schedulemodifiedon", "exportedon"} {
		assert.NotEmpty(t, a.Metadata[k], k)
	}
	assert.Len(t, a.Metadata, 23)
	z, err := open(t, a, safearchive.ZipLimits{})
	require.NoError(t, err)
	got, err := z.ReadFile("weather.json")
	require.NoError(t, err)
	assert.Equal(t, a.Files["weather.json"], got)
}

func TestBadArchivesAreRefusedForTheirReason(t *testing.T) {
	s := Spec{RecordID: RecordID(9)}
	for name, tc := range map[string]struct {
		a       Archive
		problem safearchive.ZipProblem
	}{
		"truncated": {Truncated(s), safearchive.ZipMalformed},
		"zip-slip":  {ZipSlip(s), safearchive.ZipUnsafeName},
		"bomb":      {Bomb(s, 64<<20), safearchive.ZipTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := open(t, tc.a, safearchive.ZipLimits{MaxBytes: 16 << 20})
			var ze *safearchive.ZipError
			require.True(t, errors.As(err, &ze), "%v", err)
			assert.Equal(t, tc.problem, ze.Problem, "%v", err)
		})
	}
	assert.Less(t, len(Bomb(s, 64<<20).Zip), 200<<10, "a bomb is small")
	for _, a := range []Archive{MalformedJSON(s), FailsSchema(s), UnknownAssessment(s)} {
		_, err := open(t, a, safearchive.ZipLimits{})
		assert.NoError(t, err, "a sound ZIP; the pipeline finds what is wrong inside")
	}
}
