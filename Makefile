# The two commands that matter: `make demo` (whole local stack + a sample request) and `make test`.
GO      ?= go
# Each tool has its own module so their dependency graphs never move each other's pins.
TEMPORAL_TOOL := -modfile=dev/tools/go.mod
WFCHECK_TOOL  := -modfile=dev/tools/workflowcheck/go.mod
SCHECK_TOOL   := -modfile=dev/tools/staticcheck/go.mod
BINS    := ./worker ./starter ./starter/mi ./sim/cmd/simulator ./dev/cmd/devstack ./dev/cmd/bench

.PHONY: build build-prod demo stop test lint bench bench-prod chaos clean record-histories

## build: the service binaries and the pinned Temporal CLI into bin/
build: bin/temporal
	$(GO) build -o bin/ $(BINS)

# The Temporal CLI (dev server + Web UI) is built from the Go module proxy at the version pinned in
# dev/tools/go.mod; nothing is downloaded from anywhere else.
bin/temporal: dev/tools/go.mod dev/tools/go.sum
	@mkdir -p bin
	cp "$$($(GO) tool $(TEMPORAL_TOOL) -n temporal)" bin/temporal

## build-prod: build, plus the Temporal server and its SQL schema tool at the version the pinned CLI
## embeds (dev/tools/go.mod), for the production-like topology (make bench-prod)
build-prod: build bin/temporal-server bin/temporal-sql-tool

bin/temporal-server: dev/tools/go.mod dev/tools/go.sum
	@mkdir -p bin
	cp "$$($(GO) tool $(TEMPORAL_TOOL) -n server)" bin/temporal-server

bin/temporal-sql-tool: dev/tools/go.mod dev/tools/go.sum
	@mkdir -p bin
	cp "$$($(GO) tool $(TEMPORAL_TOOL) -n sql)" bin/temporal-sql-tool

## demo: start Temporal + Web UI, simulator, worker and starter, then file a sample issue
demo: build
	bin/devstack up -sample

## stop: stop exactly what `make demo` started
stop:
	@if [ -x bin/devstack ]; then bin/devstack down; else $(GO) run ./dev/cmd/devstack down; fi

## lint: go vet + workflowcheck (determinism of workflow code) + staticcheck (staticcheck.conf)
lint:
	$(GO) vet ./...
	$(GO) tool $(WFCHECK_TOOL) workflowcheck ./workflows/...
	$(GO) tool $(SCHECK_TOOL) staticcheck ./...

## test: lint, then every test (unit, simulator conformance, end-to-end on a real dev server, and the
## documentation: every variable in docs/configuration.md, every `sh tested` command run)
test: lint
	$(GO) test -count=1 -timeout 30m ./...

## bench: the benchmarks (figures printed, never pass/fail on time). bin/bench rolls 5.10.0 out
## to 100 and 1,000 simulated instances on the real stack with set latencies (makespan against the
## ideal, the same calls from a goroutine pool without Temporal, history events, worker memory),
## to 10,000 with near-zero latencies (largest history), and sends webhooks at 10/s and 50/s; it
## prints a table and writes .local/bench.json. Then the Go benchmarks: the rollout's state at
## 1,000 and 10,000 instances, fleet seeding in the simulator. About an hour, half of it the
## 10,000-instance run: BENCH_FLAGS="-history 0" skips that.
bench: build
	bin/bench $(BENCH_FLAGS)
	$(GO) test -run '^$$' -bench . -benchtime 1x ./workflows/ ./sim/stack/

## bench-prod: the same rollouts and table as `make bench` on a production-like Temporal: the Temporal
## server on PostgreSQL (started by the bench in a temporary folder; it needs PostgreSQL 15's programs,
## `sudo apt-get install postgresql` on Debian 12), two worker processes, one SIGKILLed when half the
## fleet is upgraded, and an end-to-end create. Not part of `make test`. Same BENCH_FLAGS as bench;
## BENCH_FLAGS="-sizes 20 -history 0 -webhook none -no-baseline" is a quick check.
bench-prod: build-prod
	bin/bench -topology prod $(BENCH_FLAGS)

## chaos: the chaos tests (worker SIGKILLs during a create and a rollout, 10 % injected 5xx/429),
## minutes long; the seed is printed (replay with LIFECYCLE_CHAOS_SEED)
chaos: bin/temporal
	LIFECYCLE_CHAOS=1 TEMPORAL_CLI=$(CURDIR)/bin/temporal $(GO) test -count=1 -timeout 30m -run 'TestChaos' -v ./tests/

## record-histories: run the end-to-end tests and add, under tests/replay/testdata, the longest closed
## history of every workflow type, revision and path not recorded yet (never replacing one); the
## replay test replays them all on every `make test`
record-histories: bin/temporal
	LIFECYCLE_RECORD_HISTORIES=1 TEMPORAL_CLI=$(CURDIR)/bin/temporal $(GO) test -count=1 -timeout 30m ./tests/

clean:
	rm -rf bin .local
