//go:build crashhook

package main

import (
	"fmt"
	"os"
	"sync"

	"go.temporal.io/sdk/interceptor"

	"github.com/opsflow/opsflow/internal/crashhook"
)

var crashOnce = sync.OnceValue(func() []interceptor.WorkerInterceptor {
	cfg, err := crashhook.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker (crashhook build):", err)
		os.Exit(2)
	}
	if cfg == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "crashhook: armed at %s (once file %s)\n", cfg.Point, cfg.OnceFile)
	return []interceptor.WorkerInterceptor{crashhook.New(cfg)}
})

// crashInterceptors is the crash matrix's hook (internal/crashhook) in the test build
// (-tags crashhook): OPSFLOW_CRASH_AT selects where the worker SIGKILLs itself; one
// interceptor for every worker of the process. Bad settings stop the worker at once.
func crashInterceptors() []interceptor.WorkerInterceptor { return crashOnce() }
