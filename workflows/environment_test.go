package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
)

// The environment of a run is the one its starter put in the input; a run started without
// one (plain `temporal workflow start`) takes the worker's, as its first activity reports it.
func TestTheRunsEnvironmentComesFromItsInputElseFromTheWorker(t *testing.T) {
	for _, tc := range []struct{ input, worker, want string }{
		{input: "prod", worker: "dev", want: "prod"},
		{input: "", worker: "dev", want: "dev"},
	} {
		env, _ := importEnv(t)
		fetched := staged
		fetched.Environment = tc.worker
		env.OnActivity(importActs.FetchPackage, mock.Anything, mock.Anything).Return(fetched, nil).Once()
		var recorded []string
		env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
			if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(EnvironmentKey); ok {
				recorded = append(recorded, v)
			}
		}).Return(nil)
		env.ExecuteWorkflow(PackageImport, PackageImportInput{Package: "Diag-wgs1", DryRun: true, Environment: tc.input})
		require.NoError(t, env.GetWorkflowError())
		assert.Equal(t, []string{tc.want}, recorded, "input %q, worker %q", tc.input, tc.worker)
	}
	assert.Equal(t, "prod", RunEnvironment("prod", "dev"))
	assert.Equal(t, "dev", RunEnvironment("", "dev"))
}
