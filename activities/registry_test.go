package activities

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Activity names are method names: a method name used by two structs would make one
// registration silently replace the other.
func TestActivityNamesAreUniqueAcrossStructs(t *testing.T) {
	owners := map[string]string{}
	for _, s := range []any{&ReleaseActivities{}, &ArtifactActivities{}, &SiteFilesActivities{}, &SupervisorActivities{}, &NotifyActivities{}, &ImportActivities{},
		&SearchIndexActivities{}, &RabbitActivities{}, &SQSActivities{}, &LimsActivities{}, &UploadActivities{}, &BridgeArchiveActivities{}, &BridgeParquetActivities{}, &EllaActivities{}} {
		typ := reflect.TypeOf(s)
		for i := 0; i < typ.NumMethod(); i++ {
			name := typ.Method(i).Name
			prev, dup := owners[name]
			assert.False(t, dup, "activity %s is defined by both %s and %s", name, prev, typ)
			owners[name] = typ.String()
		}
	}
	assert.Contains(t, owners, "ExtractRelease")
}
