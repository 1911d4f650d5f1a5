//go:build !crashhook

package main

import (
	"fmt"
	"os"
	"sync"

	"go.temporal.io/sdk/interceptor"
)

var crashIgnored sync.Once

// crashInterceptors is none in the production build: the crash matrix's hook
// (internal/crashhook) is compiled only with -tags crashhook. A crash setting given to this
// build is said to be ignored, so a test that started the wrong binary is not misled.
func crashInterceptors() []interceptor.WorkerInterceptor {
	if at := os.Getenv("OPSFLOW_CRASH_AT"); at != "" {
		crashIgnored.Do(func() {
			fmt.Fprintf(os.Stderr, "worker: OPSFLOW_CRASH_AT=%s ignored: this worker is built without -tags crashhook\n", at)
		})
	}
	return nil
}
