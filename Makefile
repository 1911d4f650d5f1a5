# opsflow: build, check and test. `make test` is THE test command (CI runs it via .ci/run).
# The dev stack (Temporal dev server, S3, supervisord, RabbitMQ, PostgreSQL, OpenSearch, ElasticMQ,
# toxiproxy) is managed by scripts/stack; see docs/stack.md.

SHELL := /bin/bash
# -e: stop a recipe line at the first failure; pipefail: a failing test piped into a filter fails.
.SHELLFLAGS := -eu -o pipefail -c
# Targets that make up `test` run in the order they are listed, even under make -j.
.NOTPARALLEL:

# Go may be installed outside a non-login PATH.
export PATH := $(PATH):/usr/local/go/bin

GO ?= go
GOTESTFLAGS ?= -count=1 -timeout 15m
E2E_TIMEOUT ?= 45m
# The e2e tests mostly wait (kills, timeouts, servers): more of them at once than the CPUs.
E2E_PARALLEL ?= 8
STACK := scripts/stack
# Tools built once and cached outside the checkout (shared with scripts/stack).
TOOLS_CACHE ?= $(or $(OPSFLOW_TOOLS_CACHE),$(HOME)/.cache/opsflow/bin)
WORKFLOWCHECK := $(TOOLS_CACHE)/workflowcheck
# Prefix for commands that need the stack's addresses (OPSFLOW_* variables).
WITH_STACK_ENV = eval "$$($(STACK) env)";

.PHONY: test stack-up stack-down stack-status build vet test-unit test-e2e test-es7 demo test-search bench clean-stack

## test: the whole suite against a real stack: stack-up, vet, build, test-unit (the search contract
## suite on OpenSearch among them), test-es7 (the same suite on Elasticsearch 7.10.2), test-e2e (the
## procedures end to end, the crash matrix, the fault matrix, the bad-input corpus, the security
## checks; docs/reliability.md), fuzz-short (every fuzz target, bounded)
test: stack-up vet build test-unit test-es7 test-e2e fuzz-short

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

build:
	$(GO) build -o bin/opsflow-worker ./worker
	$(GO) build -o bin/opsflow ./starter
	$(GO) build -o bin/revalsim-peers ./internal/revalsim/revalsim-peers

## build-crash: the worker with the crash matrix's kill hook (internal/crashhook, -tags crashhook):
## for tests only (internal/e2e/crash_*_e2e_test.go build their own copy); never deploy it
.PHONY: build-crash
build-crash:
	$(GO) build -tags crashhook -o bin/opsflow-worker-crash ./worker

$(WORKFLOWCHECK):
	GOBIN=$(TOOLS_CACHE) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0

## vet: gofmt must report no file (testdata and .stack excluded), go vet (also the e2e tag),
## and workflowcheck: workflow code must be deterministic (no time.Now, goroutines, I/O).
vet: $(WORKFLOWCHECK)
	@files=$$(find . \( -path ./.stack -o -path ./node_modules -o -path ./bin -o -name testdata \) -prune \
		-o -name '*.go' -print); \
	unformatted=$$(gofmt -l $$files); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./internal/e2e/...
	$(WORKFLOWCHECK) ./workflows/...

test-unit:
	$(WITH_STACK_ENV) $(GO) test $(GOTESTFLAGS) ./...

test-e2e:
	$(WITH_STACK_ENV) $(GO) test -tags e2e -count=1 -parallel $(E2E_PARALLEL) -timeout $(E2E_TIMEOUT) ./internal/e2e/...

## test-faults: the dependency fault matrix alone (internal/e2e/faults_*_e2e_test.go: private
## servers stopped and started, toxiproxy faults) and the private servers' own tests; the matrix
## (fault, procedure, expected, observed, result) is written to FAULT_REPORT and printed
.PHONY: test-faults
FAULT_REPORT ?= $(CURDIR)/bin/fault-matrix.md
test-faults:
	@mkdir -p $(dir $(FAULT_REPORT)) && rm -f $(FAULT_REPORT)
	$(WITH_STACK_ENV) $(GO) test $(GOTESTFLAGS) ./internal/testsupport/privateserver/
	$(WITH_STACK_ENV) OPSFLOW_FAULT_REPORT=$(FAULT_REPORT) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -run '^TestFaults' ./internal/e2e/
	@cat $(FAULT_REPORT)

## record-histories: record the replay test's histories of today's code (README, "Replay tests") on
## the stack's Temporal server: the real workflows on a worker of their own (task queue opsflow-record)
## with stub activities, plain JSON payloads, into testdata/histories/<workflow>_<LABEL>_<scenario>.json.
## LABEL (required) names the code version, e.g. v2; ONLY=revalidation_sync,package_import_failed picks
## workflows or scenarios (`go run ./internal/testsupport/histories/record -list`); an existing file is
## never overwritten unless FORCE=1 (only ever for files of the current LABEL).
.PHONY: record-histories
record-histories:
	@if [ -z "$(LABEL)" ]; then echo "record-histories: set LABEL to the code version, e.g. make record-histories LABEL=v2"; exit 2; fi
	$(WITH_STACK_ENV) $(GO) run ./internal/testsupport/histories/record -label '$(LABEL)' -only '$(ONLY)' $(if $(FORCE),-force)

## test-security: the security checks alone (issue 13, item 6): leakscan's own tests, then every
## procedure run once with its raw histories, visibility records, logs, /metrics, schedules and
## e-mails scanned for its secrets (internal/e2e/security_*_e2e_test.go), and the codec server's
## token and start checks; the procedure × place table is written to SECURITY_REPORT and printed.
## Runs as root: the ELLA check makes a PostgreSQL role with a planted password as postgres.
.PHONY: test-security
SECURITY_REPORT ?= $(CURDIR)/bin/security-matrix.md
test-security:
	@mkdir -p $(dir $(SECURITY_REPORT)) && rm -f $(SECURITY_REPORT)
	$(GO) test $(GOTESTFLAGS) ./internal/testsupport/leakscan/
	$(WITH_STACK_ENV) OPSFLOW_SECURITY_REPORT=$(SECURITY_REPORT) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -run '^TestSecurity' ./internal/e2e/
	@cat $(SECURITY_REPORT)

## test-badinput: the bad-input corpus alone (issue 13, item 3): the generator's reproducibility
## check, then every file of testdata/bad fed to its procedure on the stack (internal/e2e,
## TestBadInputCorpus); the file × expected × observed table is written to BADINPUT_REPORT and
## printed. badinput-corpus regenerates testdata/bad (and its README.md index) from its table.
.PHONY: test-badinput badinput-corpus
BADINPUT_REPORT ?= $(CURDIR)/bin/badinput-matrix.md
test-badinput:
	@mkdir -p $(dir $(BADINPUT_REPORT)) && rm -f $(BADINPUT_REPORT)
	$(GO) test $(GOTESTFLAGS) ./internal/testsupport/badinput/
	$(WITH_STACK_ENV) OPSFLOW_BADINPUT_REPORT=$(BADINPUT_REPORT) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -run '^TestBadInputCorpus$$' ./internal/e2e/
	@cat $(BADINPUT_REPORT)
badinput-corpus:
	$(GO) run ./internal/testsupport/badinput/gen

## demo: a worker and a release of the demo repository against the dev stack
demo: stack-up build
	scripts/demo

## test-es7: the esclient contract suite on Elasticsearch 7.10.2 (the last Apache-2.0 release, from
## Maven Central jars, started for this target alone on 127.0.0.1:9201 and stopped after it)
ES7_URL := http://127.0.0.1:9201
test-es7:
	$(STACK) es7 start
	status=0; OPSFLOW_ES_URL=$(ES7_URL) $(GO) test $(GOTESTFLAGS) -v ./internal/esclient/ || status=$$?; \
	$(STACK) es7 stop; exit $$status

## test-search: the contract suite against any cluster (OPSFLOW_ES_URL), e.g. Elasticsearch 7.17
## from docker-compose: docker compose up -d elasticsearch7 && OPSFLOW_ES_URL=http://127.0.0.1:9207 make test-search
test-search:
	@if [ -z "$${OPSFLOW_ES_URL:-}" ]; then \
		echo "test-search: set OPSFLOW_ES_URL to the cluster's address"; exit 2; \
	fi
	$(GO) test $(GOTESTFLAGS) -v ./internal/esclient/...

## bench: the revalidation sync benchmark (bench/README.md): BENCH_DOCTORS doctors drained by a bare
## client and by RevalidationSync on the worker, side by side; result in bench/results/.
## Needs the stack (make stack-up); BENCH_DOCTORS=20000 for a quick run. Takes minutes.
BENCH_DOCTORS ?= 300000
BENCH_FLAGS ?=
bench:
	$(WITH_STACK_ENV) $(GO) run ./bench/reval -doctors $(BENCH_DOCTORS) $(BENCH_FLAGS)

## bench-copy: the tsd-import data movers' throughput (bench/README.md), not a timed test: the
## filelock-exporter's copy + verify (MD5 + SHA-256) of BENCH_COPY_GIB GiB against plain `cp` (and
## `cp` + `sha256sum`) of the same files, then the nsc-exporter's upload of BENCH_UPLOAD_GIB GiB against a
## bare aws-sdk-go-v2 multipart upload, each side by side in one run; results in bench/results/.
BENCH_COPY_GIB ?= 5
BENCH_UPLOAD_GIB ?= 1
.PHONY: bench-copy
bench-copy:
	$(WITH_STACK_ENV) $(GO) run ./bench/copy -gib $(BENCH_COPY_GIB)
	$(WITH_STACK_ENV) $(GO) run ./bench/upload -gib $(BENCH_UPLOAD_GIB)

## bench-bridge: Bridge JSON -> Parquet (bench/README.md), not a timed test: BENCH_BRIDGE_GIB GiB of generated
## NDJSON with nested arrays converted by opsflow's BridgeParquetActivities and by DuckDB's COPY at the same
## thread count, side by side in one run; rows/s, ratio and peak RSS in bench/results/.
BENCH_BRIDGE_GIB ?= 1
.PHONY: bench-bridge
bench-bridge:
	$(WITH_STACK_ENV) $(GO) run ./bench/bridge -gib $(BENCH_BRIDGE_GIB)

## bench-load: the load figures of issue 13 (bench/README.md, "Load"), not timed tests: LOAD_PACKAGES sample
## packages imported concurrently, one FilelockScan over LOAD_OBJECTS objects, the revalidation sync at
## LOAD_DOCTORS doctors (bench/reval), LOAD_ARCHIVES Bridge archives to Parquet; wall time, worker peak RSS and
## Temporal history sizes in bench/results/load-*.md. LOAD_SCENARIOS picks some (packages,scan,reval,bridge);
## LOAD_FLAGS passes more (go run ./bench/load -h). A private Temporal dev server unless LOAD_FLAGS=-temporal=stack.
LOAD_SCENARIOS ?= packages,scan,reval,bridge
LOAD_PACKAGES ?= 1000
LOAD_OBJECTS ?= 100000
LOAD_DOCTORS ?= 300000
LOAD_ARCHIVES ?= 1000
LOAD_FLAGS ?=
.PHONY: bench-load
bench-load:
	$(WITH_STACK_ENV) $(GO) run ./bench/load -scenarios $(LOAD_SCENARIOS) -packages $(LOAD_PACKAGES) -objects $(LOAD_OBJECTS) \
		-doctors $(LOAD_DOCTORS) -archives $(LOAD_ARCHIVES) $(LOAD_FLAGS)

## fuzz-short: every `go test -fuzz` target (scripts/fuzz lists them) for FUZZTIME (default 8s) each,
## one after the other: about 3 minutes on 2 CPUs with a warm build cache. A failing input stays in
## <pkg>/testdata/fuzz/<Target>/ (then `go test` fails on it); the summary shows it. Needs no stack.
## soak: the long ones: every fuzz target for FUZZTIME (default 5m) each (FUZZ_OUT keeps the logs,
## testdata/fuzz/README.md), then bench-load at the issue's sizes (bench/README.md, "Load").
.PHONY: fuzz-short soak
fuzz-short:
	scripts/fuzz short

soak:
	scripts/fuzz long
	$(MAKE) bench-load

## clean-stack: stop the stack and delete its state (.stack/ except the binaries in .stack/bin)
clean-stack: stack-down
	if [ -d .stack ]; then find .stack -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} +; fi
