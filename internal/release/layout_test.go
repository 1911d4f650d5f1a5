package release

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLayoutNamesTheSeedsDirectories(t *testing.T) {
	l := Site{Name: "nsc", Dir: "/transfer"}.Layout("tsd-import")
	assert.Equal(t, "/transfer/sw/archive", l.ArchiveDir())
	assert.Equal(t, "/transfer/sw/releases/tsd-import-v1.4.0-rel", l.ReleaseDir("v1.4.0-rel"))
	assert.Equal(t, "/transfer/sw/tsd-import", l.CurrentLink())
	assert.Equal(t, "releases/tsd-import-v1.4.0-rel", l.CurrentTarget("v1.4.0-rel"), "relative, so the site can move")
	assert.Equal(t, "/transfer/sw/releases/.staging-v1.4.0-rel-run1", l.StagingDir("v1.4.0-rel", "run1"))
	assert.Equal(t, "/transfer/sw/.tsd-import.swap-run1", l.SwapLink("run1"))
	assert.Equal(t, "/transfer/sw/releases/.pins/run1.json", l.PinFile("run1"))
	assert.True(t, l.IsReleaseName("tsd-import-v1.0.0-rel"))
	assert.False(t, l.IsReleaseName(".pins"))
	assert.False(t, l.IsReleaseName(".staging-v1.0.0-rel-run1"))
	assert.Equal(t, "tsd-import/v1.4.0-rel/tsd-import-v1.4.0-rel.tar.gz", ArtifactKey("tsd-import", "v1.4.0-rel"))
}

func TestCheckRunRefusesNamesThatAreNotPlain(t *testing.T) {
	require.NoError(t, CheckRun("0f1e2d3c-aaaa-bbbb-cccc-000000000000"))
	for _, bad := range []string{"", "../x", "a/b", "a b", string(make([]byte, 129))} {
		assert.Error(t, CheckRun(bad), "%q", bad)
	}
}

func TestPinRoundTripAndExpiry(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := NewPin("run1", time.Time{}, now, "", "v1.0.0-rel", "v1.1.0-rel")
	assert.Equal(t, []string{"v1.0.0-rel", "v1.1.0-rel"}, p.Keep, "an empty previous version is not pinned")
	assert.Equal(t, now.Add(DefaultPinFor), p.Until)
	data, err := p.Marshal()
	require.NoError(t, err)
	back, err := ParsePin(data)
	require.NoError(t, err)
	assert.Equal(t, p, back)
	assert.False(t, back.Expired(now.Add(time.Hour)))
	assert.True(t, back.Expired(now.Add(DefaultPinFor+time.Second)))
	_, err = ParsePin([]byte("{"))
	assert.Error(t, err)
}

func TestSiteServices(t *testing.T) {
	s := Site{Services: []Service{{Name: "a", SupervisorURL: "u1"}, {Name: "b"}}}
	svc, ok := s.Service("a")
	assert.True(t, ok)
	assert.Equal(t, "u1", svc.SupervisorURL)
	_, ok = s.Service("c")
	assert.False(t, ok)
	assert.Equal(t, []string{"a", "b"}, s.ServiceNames())
}
