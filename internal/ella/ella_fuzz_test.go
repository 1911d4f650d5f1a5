package ella_test

import (
	"encoding/json"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/ella"
)

var (
	plainFileRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*$`)
	lowerHexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// FuzzEllaNames checks ELLA's validators on arbitrary strings. An image or config file name
// they accept is one plain file name with its suffix, of letters, digits and ._+- only, never
// "-" first (an option), never "." or "..", so it stays directly in its directory (and the
// production symlink's target is canonical); a broadcast accepted is non-blank UTF-8 of at
// most MaxBroadcastRunes without control or line-separator characters or a leading "-", and
// reaches ella-cli as exactly one argument; a checksum accepted is 64 lower-case hex digits.
func FuzzEllaNames(f *testing.F) {
	for _, s := range []string{"ella-release-v1.17.2.sif", "usergroups.json", "../x.sif", "/abs.sif", "-rf.sif", "..", ".",
		"a/b.sif", "a\\b.sif", "a\x00.sif", "x.sif\n", ".sif", "a..b.sif", "$(reboot).sif", "a b.json", "ﬁ.sif",
		ella.AcceptanceTestMessage, ella.RolledBackMessage, ella.DowntimeMessage("v1.17.2", "tirsdag 1. desember 16–18"),
		"-h", "line\nbreak", "tab\there", "sep\u2028x", "bidi\u202ex", "   ", "\xff", strings.Repeat("å", 501),
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", strings.Repeat("A", 64)} {
		f.Add(s)
	}
	cli, err := ella.NewCLI([]string{"singularity", "exec", ella.ImageArg, "ella-cli"})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, s string) {
		if ella.CheckImageName(s) == nil {
			checkPlainFile(t, s, ".sif")
			link := ella.LinkTarget(s)
			require.Equal(t, "../"+ella.ReleasesDir+"/"+s, link)
			require.Equal(t, link, path.Clean(link), "the symlink target of %q is not canonical", s)
			forImage, err := cli.ForImage(s)
			require.NoError(t, err)
			require.Equal(t, []string{"singularity", "exec", s, "ella-cli"}, forImage.Prefix)
		}
		if ella.CheckConfigName(s) == nil {
			checkPlainFile(t, s, ".json")
			require.NoError(t, ella.CheckConfigAllowed(s, []string{"x.json", s}))
		}
		require.Error(t, ella.CheckConfigAllowed(s, nil), "no list, nothing allowed")
		if ella.CheckBroadcast(s) == nil {
			checkBroadcast(t, s)
			argv, err := cli.BroadcastNew(s)
			require.NoError(t, err)
			require.Equal(t, append(append([]string{}, cli.Prefix...), "broadcast", "new", s), argv)
		} else {
			_, err := cli.BroadcastNew(s)
			require.Error(t, err, "BroadcastNew sends what CheckBroadcast refuses")
		}
		if ella.CheckSHA256(s) == nil {
			require.Regexp(t, lowerHexRE, s)
		}
	})
}

// FuzzDeployInput validates arbitrary deploy inputs (recipients separated by ";"). An input
// Validate accepts has a version without "/" or a leading "-", a plain .sif image, a
// lower-case SHA-256, plain .json config files, a window and downtime broadcast CheckBroadcast
// would send, acceptance and reminder intervals within bounds, recipients that are bare
// addresses (nothing a mail header could be built from), a task queue name if any; and it
// is still valid, and the same, after a JSON round trip (as a workflow receives it).
func FuzzDeployInput(f *testing.F) {
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	f.Add("v1.17.2", "ella-release-v1.17.2.sif", sum, "usergroups.json", "tirsdag 1. desember 16–18", "", "24h", "4h",
		"ella-users@example.org", "tester@example.org;tester2@example.org", "ella-p22-ella-01")
	f.Add("-v1.17.2", "../x.sif", strings.ToUpper(sum), "../x.json", "", "-x", "1s", "1s", "a@b", "x@y.org\r\nBcc: z@evil.org", "-q")
	f.Add("v1", "a.sif", sum, "", "\n", "msg", "15d", "4m", "Name <a@b.org>", "a@b.org,c@d.org", "")
	f.Fuzz(func(t *testing.T, version, image, sha, config, window, msg, within, remind, users, testers, queue string) {
		in := ella.DeployInput{Version: version, Image: image, SHA256: sha, UserGroups: config, FilterConfigs: config,
			Window: window, DowntimeMessage: msg, AcceptanceWithin: within, RemindEvery: remind,
			Users: strings.Split(users, ";"), Testers: strings.Split(testers, ";"), TaskQueue: queue}
		if in.Validate() != nil {
			return
		}
		require.False(t, version == "" || strings.ContainsAny(version, "/\\\x00") || strings.HasPrefix(version, "-"), "version %q", version)
		require.NoError(t, ella.CheckImageName(image))
		require.Regexp(t, lowerHexRE, sha)
		for _, c := range in.ConfigFiles() {
			require.NoError(t, ella.CheckConfigName(c.Name))
		}
		require.NotEmpty(t, strings.TrimSpace(window))
		require.True(t, utf8.ValidString(window) && !strings.ContainsFunc(window, unicode.IsControl), "window %q", window)
		require.NoError(t, ella.CheckBroadcast(in.Downtime()))
		w, r, err := in.Windows()
		require.NoError(t, err)
		require.True(t, w >= ella.MinAcceptanceWithin && w <= ella.MaxAcceptanceWithin && r >= ella.MinRemindEvery, "%s %s", w, r)
		for _, a := range append(append([]string{}, in.Users...), in.Testers...) {
			require.False(t, a == "" || strings.ContainsAny(a, " \t\r\n,;:<>\"()[]\\") || strings.Count(a, "@") != 1, "recipient %q", a)
			require.True(t, isASCII(a), "recipient %q", a)
		}
		if queue != "" {
			require.False(t, strings.ContainsAny(queue, "/\\ \x00") || strings.HasPrefix(queue, "-"), "task queue %q", queue)
		}
		b, err := json.Marshal(in)
		require.NoError(t, err)
		var back ella.DeployInput
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, in, back)
		require.NoError(t, back.Validate())
	})
}

func checkPlainFile(t *testing.T, name, suffix string) {
	require.True(t, strings.HasSuffix(name, suffix), "%q", name)
	require.Regexp(t, plainFileRE, name)
	require.NotContains(t, []string{".", ".."}, name)
	require.False(t, strings.HasPrefix(name, "-"), "%q reads as an option", name)
	require.Equal(t, name, filepath.Base(name))
	dir := filepath.FromSlash("/srv/ella/" + ella.ReleasesDir)
	require.Equal(t, dir, filepath.Dir(filepath.Join(dir, name)), "%q leaves its directory", name)
}

func checkBroadcast(t *testing.T, s string) {
	require.NotEmpty(t, strings.TrimSpace(s))
	require.False(t, strings.HasPrefix(s, "-"), "%q reads as an option", s)
	require.True(t, utf8.ValidString(s), "%q", s)
	require.LessOrEqual(t, utf8.RuneCountInString(s), ella.MaxBroadcastRunes)
	for _, r := range s {
		require.False(t, unicode.IsControl(r) || r == '\u2028' || r == '\u2029', "%q holds %U", s, r)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
