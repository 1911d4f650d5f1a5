package ella

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.md")

const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func validInput() DeployInput {
	return DeployInput{Version: "v1.17.2", Image: "ella-release-v1.17.2.sif", SHA256: sum,
		UserGroups: "usergroups.json", FilterConfigs: "filterconfigs.json", Window: "tirsdag 1. desember 16–18",
		AcceptanceWithin: "24h", RemindEvery: "4h", Users: []string{"ella-users@example.org"}, Testers: []string{"tester@example.org"},
		Change: "New release with the 1.17 gene panels.\n# not a heading"}
}

func TestValidInputPasses(t *testing.T) {
	require.NoError(t, validInput().Validate())
	within, remind, err := DeployInput{}.Windows()
	require.NoError(t, err)
	assert.Equal(t, DefaultAcceptanceWithin, within)
	assert.Equal(t, DefaultRemindEvery, remind)
}

func TestBadInputsAreRefusedNamingTheField(t *testing.T) {
	cases := map[string]struct {
		edit func(*DeployInput)
		want string
	}{
		"image in a directory": {func(in *DeployInput) { in.Image = "../ella.sif" }, "not a plain file name"},
		"image as an option":   {func(in *DeployInput) { in.Image = "-rf.sif" }, "option"},
		"image not sif":        {func(in *DeployInput) { in.Image = "ella.tgz" }, ".sif"},
		"short checksum":       {func(in *DeployInput) { in.SHA256 = "abc" }, "sha256"},
		"upper-case checksum":  {func(in *DeployInput) { in.SHA256 = strings.ToUpper(sum) }, "sha256"},
		"config with path":     {func(in *DeployInput) { in.UserGroups = "/etc/passwd.json" }, "usergroups: config file"},
		"config not json":      {func(in *DeployInput) { in.FilterConfigs = "f.yaml" }, "filterconfigs"},
		"no window":            {func(in *DeployInput) { in.Window = " " }, "window"},
		"bad deadline":         {func(in *DeployInput) { in.AcceptanceWithin = "1m" }, "acceptanceWithin"},
		"bad reminder":         {func(in *DeployInput) { in.RemindEvery = "often" }, "remindEvery"},
		"no testers":           {func(in *DeployInput) { in.Testers = nil }, "testers: no e-mail"},
		"display name":         {func(in *DeployInput) { in.Users = []string{"Ola <ola@example.org>"} }, "users"},
		"header injection":     {func(in *DeployInput) { in.Users = []string{"a@example.org\nBcc: x@y.z"} }, "users"},
		"two addresses in one": {func(in *DeployInput) { in.Testers = []string{"a@example.org, b@example.org"} }, "testers"},
		"no domain":            {func(in *DeployInput) { in.Testers = []string{"a@"} }, "testers"},
		"bad version":          {func(in *DeployInput) { in.Version = "v1 && x" }, "version"},
		"broadcast newline":    {func(in *DeployInput) { in.DowntimeMessage = "ned\nnå" }, "downtime message"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := validInput()
			c.edit(&in)
			err := in.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestConfigFilesMustBeAllowed(t *testing.T) {
	allowed := []string{"usergroups.json", "filterconfigs.json"}
	require.NoError(t, CheckConfigAllowed("usergroups.json", allowed))
	err := CheckConfigAllowed("other.json", allowed)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"other.json" is not one of the allowed`)
	assert.Equal(t, []ConfigFile{{ConfigUserGroups, "usergroups.json"}, {ConfigFilterConfigs, "filterconfigs.json"}}, validInput().ConfigFiles())
}

func TestBroadcastMessages(t *testing.T) {
	require.NoError(t, CheckBroadcast(AcceptanceTestMessage))
	require.NoError(t, CheckBroadcast(RolledBackMessage))
	assert.Equal(t, "Akseptansetest pågår, vennligst vent med å bruke ELLA som normal til du får beskjed.", AcceptanceTestMessage)
	assert.Equal(t, "ELLA oppgraderes til versjon v1.17.2 og vil være utilgjengelig tirsdag 16–18.", DowntimeMessage("v1.17.2", "tirsdag 16–18"))
	for _, bad := range []string{"", "  ", "a\nb", "a\x1b[31mb", "tab\there", "-x", "\u2028", "\xff", strings.Repeat("x", MaxBroadcastRunes+1)} {
		assert.Error(t, CheckBroadcast(bad), "%q", bad)
	}
}

func TestShellMetacharactersStayOneArgument(t *testing.T) {
	cli, err := NewCLI([]string{"/opt/stand-in/ella-cli"})
	require.NoError(t, err)
	msg := `$(rm -rf /); echo "x" | tee 'y' && ` + "`id`"
	argv, err := cli.BroadcastNew(msg)
	require.NoError(t, err)
	assert.Equal(t, []string{"/opt/stand-in/ella-cli", "broadcast", "new", msg}, argv)
	assert.Equal(t, msg, argv[len(argv)-1])
}

func TestCommandLines(t *testing.T) {
	_, err := NewCLI(nil)
	require.Error(t, err)
	_, err = NewCLI([]string{"singularity", ""})
	require.Error(t, err)
	prefix := SingularityPrefix("/ess/p22/data/durable/production/ella/ella-prod/ella.sif")
	cli, err := NewCLI(prefix)
	require.NoError(t, err)
	prefix[0] = "changed" // the CLI keeps its own copy
	p := []string{"singularity", "exec", "/ess/p22/data/durable/production/ella/ella-prod/ella.sif", "ella-cli"}
	assert.Equal(t, append(p[:4:4], "database", "compare"), cli.DatabaseCompare())
	assert.Equal(t, append(p[:4:4], "database", "upgrade", "head"), cli.DatabaseUpgradeHead())
	assert.Equal(t, append(p[:4:4], "broadcast", "deactivate", "42"), cli.BroadcastDeactivate(42))
	assert.Equal(t, append(p[:4:4], "broadcast", "list"), cli.BroadcastList())
	ug, err := cli.Config(ConfigUserGroups, "/cfg/usergroups.json")
	require.NoError(t, err)
	assert.Equal(t, append(p[:4:4], "users", "add_groups", "/cfg/usergroups.json"), ug)
	fc, err := cli.Config(ConfigFilterConfigs, "/cfg/filterconfigs.json")
	require.NoError(t, err)
	assert.Equal(t, append(p[:4:4], "filterconfigs", "update", "/cfg/filterconfigs.json"), fc)
	_, err = cli.Config("genepanels", "x.json")
	require.Error(t, err)
	_, err = cli.BroadcastNew("line\nbreak")
	require.Error(t, err)
}

func TestGateTakesOneDecisionWhileOpen(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	g := &Gate{}
	ok := Decision{Approved: true, By: "superuser", Comment: "all\nfine"}
	err := g.Check(ok)
	require.Error(t, err, "not open yet")
	assert.Contains(t, err.Error(), "has not started yet")

	g.State = GateOpen
	err = g.Check(Decision{Approved: true, By: "  "})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"by"`)
	require.Error(t, g.Check(Decision{By: "x\x00"}))
	require.NoError(t, g.Decide(ok, at))
	assert.Equal(t, GateDecided, g.State)
	assert.Equal(t, at, g.Decision.At)

	err = g.Decide(Decision{Approved: false, By: "other"}, at)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already approved by superuser")
	assert.True(t, g.Decision.Approved, "the first decision stands")

	exp := &Gate{State: GateExpired, Deadline: at}
	assert.ErrorContains(t, exp.Check(ok), "deadline 2026-12-01T15:00:00Z passed")
	closed := &Gate{State: GateClosed}
	assert.ErrorContains(t, closed.Check(ok), "ended before")
}

func TestChangeRecordGolden(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	step := func(i int, name, status, detail string) Step {
		return Step{Name: name, Status: status, Detail: detail, Started: t0.Add(time.Duration(i) * time.Minute), Finished: t0.Add(time.Duration(i)*time.Minute + 30*time.Second)}
	}
	rec := Record{Input: validInput(), PreviousImage: "../archive/releases/ella-release-v1.17.1.sif", Migrated: true,
		Backup: "backups/20261201T160300Z.dump", Outcome: OutcomeRejected, Started: t0, Finished: t0.Add(3 * time.Hour),
		Decision: &Decision{Approved: false, By: "Kari | superuser", Comment: "Filter *broken*\nfor <HBOC>", At: t0.Add(2 * time.Hour)},
		Steps: []Step{
			step(0, "pre-flight", StepOK, "migration due"),
			step(1, "mail users: planned window", StepOK, ""),
			step(2, "broadcast downtime", StepOK, "broadcast 7"),
			step(3, "stop", StepOK, ""),
			step(4, "backup", StepOK, "backups/20261201T160300Z.dump"),
			step(5, "switch image", StepOK, ""),
			step(6, "migrate", StepOK, ""),
			step(7, "load usergroups", StepSkipped, "not given"),
			step(8, "start", StepOK, ""),
			step(9, "acceptance", StepFailed, "rejected by Kari | superuser"),
			step(10, "rollback: restore backup", StepOK, ""),
		}}
	got := ChangeRecord(rec)
	assert.Equal(t, got, ChangeRecord(rec), "the same record gives the same text")
	golden := filepath.Join("testdata", "changerecord.golden.md")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./internal/ella -update once to write it")
	assert.Equal(t, string(want), got)
	assert.Contains(t, got, `Kari \| superuser`)
	assert.Contains(t, got, `\# not a heading`)
}

func TestCLIForImage(t *testing.T) {
	c, err := NewCLI(SingularityPrefix(ImageArg))
	require.NoError(t, err)
	got, err := c.ForImage("/ella/ella-prod/ella.sif")
	require.NoError(t, err)
	require.Equal(t, []string{"singularity", "exec", "/ella/ella-prod/ella.sif", "ella-cli", "database", "compare"}, got.DatabaseCompare())
	require.Equal(t, []string{"singularity", "exec", ImageArg, "ella-cli"}, c.Prefix, "the configured prefix is left as it was")
	_, err = CLI{Prefix: []string{"ella-cli"}}.ForImage("x.sif")
	require.ErrorContains(t, err, "has no {image} argument")
}
