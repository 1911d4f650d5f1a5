package release_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/release"
)

// FuzzParseVersion checks the release tag rule on arbitrary strings: a tag ParseVersion
// accepts formats back to itself (so two spellings never name one release), its numbers
// are not negative and Less orders it like the numbers; a refusal quotes the tag. The same
// string is tried as a run id: one CheckRun accepts is a plain file-name part that keeps
// the temporary names and pin files inside their directories.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v1.2.3-rel", "v1.4.0-rel", "v10.0.23-rel", "v0.0.0-rel", "v999999.999999.999999-rel",
		"v1.2-rel", "1.2.3-rel", "v1.2.3", "-v1.2.3-rel", "v01.4.0-rel", "v1.4.0-rel ", " v1.4.0-rel", "v1.4.0-rc1",
		"v1.4.0-rel;x", "v1.4.0-rel\n", "v1.2.3-rel/../x", "v1000000.0.0-rel", "v+1.2.3-rel", "v1.2.3-REL", "V1.2.3-rel",
		"v١.2.3-rel", "run-1", "ReleaseDeploy-abc_123", "../x", "-rf", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := release.ParseVersion(s)
		if err != nil {
			require.Contains(t, err.Error(), fmt.Sprintf("%q", s), "the refusal quotes the tag")
		} else {
			require.Equal(t, s, v.Tag(), "the tag does not format back to itself")
			require.True(t, v.Major >= 0 && v.Minor >= 0 && v.Patch >= 0, "%+v", v)
			again, err := release.ParseVersion(v.Tag())
			require.NoError(t, err)
			require.Equal(t, v, again)
			require.False(t, v.Less(v), "Less is not strict")
			for _, o := range []release.Version{{}, {Major: 1, Minor: 2, Patch: 3}, {Major: 999999, Minor: 999999, Patch: 999999}} {
				want := [3]int{v.Major, v.Minor, v.Patch}
				other := [3]int{o.Major, o.Minor, o.Patch}
				require.Equal(t, lessTuple(want, other), v.Less(o), "%s < %s", v.Tag(), o.Tag())
				require.False(t, v.Less(o) && o.Less(v), "%s and %s", v.Tag(), o.Tag())
			}
			l := release.Layout{Dir: "/srv/site", Package: "tsd-import"}
			require.Equal(t, l.ReleasesDir(), filepath.Dir(l.ReleaseDir(v.Tag())), "the release directory of %s", s)
		}
		if release.CheckRun(s) == nil {
			require.False(t, s == "" || strings.ContainsAny(s, "/\\\x00. \n"), "run %q", s)
			l := release.Layout{Dir: "/srv/site", Package: "tsd-import"}
			require.Equal(t, l.PinsDir(), filepath.Dir(l.PinFile(s)), "the pin of run %q", s)
			require.Equal(t, l.ReleasesDir(), filepath.Dir(l.StagingDir("v1.2.3-rel", s)), "the staging directory of run %q", s)
			require.Equal(t, l.SWDir(), filepath.Dir(l.SwapLink(s)), "the swap link of run %q", s)
			pin := release.NewPin(s, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), time.Time{}, "v1.2.3-rel", "", "v1.2.4-rel")
			b, err := pin.Marshal()
			require.NoError(t, err)
			back, err := release.ParsePin(b)
			require.NoError(t, err)
			require.Equal(t, pin.Run, back.Run)
			require.Equal(t, pin.Keep, back.Keep)
			require.True(t, pin.Until.Equal(back.Until))
		}
	})
}

func lessTuple(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
