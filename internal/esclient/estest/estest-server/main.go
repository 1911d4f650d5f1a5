// Command estest-server runs estest, opsflow's TEST-ONLY stand-in for Elasticsearch 7
// (the REST subset opsflow uses, in memory, nothing persisted), as a process. It exists
// because Elasticsearch cannot be installed on the machines opsflow is developed on: the
// demo and the benchmark point the worker at it. With Docker, run the real thing instead:
// `docker compose up -d elasticsearch` and OPSFLOW_ES_URL=http://127.0.0.1:9200.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/opsflow/opsflow/internal/esclient/estest"
)

func main() {
	def := os.Getenv("OPSFLOW_ESTEST_ADDR")
	if def == "" {
		def = "127.0.0.1:9200"
	}
	addr := flag.String("addr", def, "listen address (env OPSFLOW_ESTEST_ADDR)")
	flag.Parse()
	logger := log.New(os.Stderr, "", log.LstdFlags)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "estest-server:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: estest.NewHandler(logger.Printf), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("estest-server: TEST-ONLY Elasticsearch %s REST subset (in memory) on http://%s", estest.Version, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "estest-server:", err)
		os.Exit(1)
	}
}
