//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsflow/opsflow/internal/testsupport/badinput"
	"github.com/opsflow/opsflow/internal/testsupport/ellastub"
)

// runEllaCorpus: a stand-in ELLA host runs v1; every bad name of names/ella-deploy.json is
// refused by `opsflow ella deploy` before anything starts, and by the EllaDeploy workflow
// (EllaDeployRefused ← InvalidInput) when a run is started with it by the Temporal CLI. ELLA is
// untouched throughout: the symlink, the schema, the broadcasts, the programs (same PIDs), the
// page; and nobody is e-mailed.
func runEllaCorpus(t *testing.T, b *badInputDeployment, cases []badinput.Case) {
	d := b.deployment
	nanos := time.Now().UnixNano()
	h := newEllaHost(t, d, "bad", ellastub.Build(t), "", true)
	users, testers := fmt.Sprintf("bad-users-%d@ous.test", nanos), fmt.Sprintf("bad-testers-%d@ous.test", nanos)
	before, page := h.fingerprint(), h.page()
	for _, c := range cases {
		require.Equal(t, "names/ella-deploy.json", c.Path, "no ELLA row runs %s", c.Path)
		var flags []badinput.EllaFlag
		require.NoError(t, json.Unmarshal(corpus(t, c.Path), &flags))
		names := make([]string, len(flags))
		for i, f := range flags {
			names[i] = f.Flag + "=" + flat(f.Value)
		}
		t.Run(c.Path, func(t *testing.T) {
			concurrently(t, names, 4, func(t *testing.T, i int) {
				f := flags[i]
				version := fmt.Sprintf("v2.0.0+bad%d.%d", i, nanos)
				valid := map[string]string{"--version": version, "--image": ellastub.ReleaseV2, "--sha256": h.host.Sums[ellastub.ReleaseV2],
					"--window": "tirsdag 1. desember 16–18", "--users": users, "--testers": testers, "--host-queue": h.queue,
					"--acceptance-within": "10m", "--remind-every": "5m"}
				valid[f.Flag] = f.Value
				id := fmt.Sprintf("badinput-ella-%d-%d", i, nanos)
				args := []string{"ella", "deploy", "--workflow-id", id}
				for _, k := range slices.Sorted(maps.Keys(valid)) {
					args = append(args, k, valid[k])
				}
				out, err := d.starter(args...)
				assert.Error(t, err, "%s %q: %s", f.Flag, f.Value, out)
				assert.Contains(t, out, "input refused, nothing started", "%s %q", f.Flag, f.Value)
				d.assertNoRun(t, id, fmt.Sprintf("opsflow ella deploy %s %q", f.Flag, f.Value))

				input := map[string]any{"version": version, "image": ellastub.ReleaseV2, "sha256": h.host.Sums[ellastub.ReleaseV2],
					"window": "tirsdag 1. desember 16–18", "users": []string{users}, "testers": []string{testers}, "taskQueue": h.queue,
					"acceptanceWithin": "10m", "remindEvery": "5m"}
				input[f.Field] = f.Value
				if f.Field == "users" {
					input[f.Field] = []string{f.Value}
				}
				raw, err := json.Marshal(input)
				require.NoError(t, err)
				cliID := id + "-cli"
				d.temporalCLI("workflow", "start", "--type", "EllaDeploy", "--task-queue", d.taskQueue, "--workflow-id", cliID, "--input", string(raw))
				b.refused(t, c, d.runErr(t, cliID, 2*time.Minute), fmt.Sprintf("Temporal CLI start with %s %q", f.Field, f.Value))
			})
		})
	}
	assert.Equal(t, before, h.fingerprint(), "ELLA was stopped, switched, migrated or broadcast to")
	assert.Equal(t, allRunningStates(), h.states())
	assert.Equal(t, page, h.page())
	assert.Empty(t, maildevTo(t, users, testers), "e-mail sent for a refused deploy")
}
