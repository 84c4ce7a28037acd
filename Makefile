# zkload: `make` runs the main job, `make test` the tests. Both install what is missing first.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

# Suite settings; the defaults are in scripts/suite.sh (WORKERS 2, USERS 128, SPAWN_RATE 32,
# RUN_TIME 10s, WARMUP 5s of unmeasured load before the first test (0 skips it), a local
# ZooKeeper unless ZK_LOCUST_HOSTS is set).
# REPORT_DIR=D puts everything in D (refused if not empty, unless FORCE=1) with run.json,
# then the report.
export WORKERS USERS SPAWN_RATE RUN_TIME WARMUP STATS_COLLECT ZK_LOCUST_HOSTS OUT REPORT_DIR FORCE

.PHONY: all setup test-setup build web test vet suite sequence failover capacity http-demo bench clean

all: setup build suite

# The headless suite: every test through a real Locust master and zkload workers.
suite: build
	@bash scripts/suite.sh

# Any other target is one test of the suite, by its label (`bin/zkload list --suite`):
# `make get`, `make set_and_get`, `make connect`, `make standby`.
.DEFAULT:
	@$(MAKE) --no-print-directory build
	@bash scripts/suite.sh $@

# zk-locust's 17-step sequence (BENCH_STEP_DURATION seconds a step, BENCH_REPETITIONS times).
sequence: build
	@bash scripts/sequence.sh $(if $(BENCH_STEP_DURATION),--bench-step-duration $(BENCH_STEP_DURATION)) $(if $(BENCH_REPETITIONS),--bench-repetitions $(BENCH_REPETITIONS))

# The ZooKeeper paper's failure experiment on a local ensemble (MEMBERS=3 or 5): faults
# under a mixed load, the report with every fault marked, election times (doc/faults.md).
failover: setup build
	@bash scripts/failover.sh

# The capacity of Get and of Set on a local ensemble: a `zkload run --seek` each, then one
# report (doc/load-control.md). SLO ('p99<10ms, errors<1%'), RUN_TIME (2m: each seek's
# bound), PRECISION (0.05), START (500/s), MAX, USERS (64), MEMBERS (1), OUT (out/capacity).
capacity: setup build
	@bash scripts/capacity.sh

setup:
	@bash scripts/setup.sh

build: web
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty --tags 2>/dev/null)" -o bin/zkload ./zkload

# The report's chart library (npm uplot, pinned by reports/web/package-lock.json), copied
# into reports/web/dist for go:embed (doc/report.md). Without npm the build goes on and
# report.html falls back to static figures.
WEB_LIB := reports/web/dist/uPlot.iife.min.js
web: $(WEB_LIB)
$(WEB_LIB): reports/web/package.json reports/web/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "make web: npm not found (scripts/setup.sh installs it): report.html will have static figures only" >&2; \
	else \
	  cd reports/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null && \
	  cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css dist/ && \
	  cp node_modules/uplot/LICENSE dist/uPlot.LICENSE; \
	fi

# A headless Locust master with zkload workers against a local HTTP target.
http-demo: build
	@bash scripts/http-demo.sh

# zkload beside nginx/wrk/Locust and ZooKeeper/kazoo/bare go-zookeeper, pinned to cores 0
# and 1; writes doc/performance.md (BENCH_ROUNDS 3, BENCH_SECONDS 10, BENCH_OUT).
bench: build
	@bash scripts/setup.sh --bench
	@bash scripts/bench/bench.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

test-setup:
	@bash scripts/setup.sh --test

# -parallel 4: most end-to-end tests wait on real processes (masters, ensembles, runs of
# seconds), not on the CPU; with the default (GOMAXPROCS, 2 on a small CI machine) the
# zkload package took 635 s, with 4 467 s, under -race.
test: test-setup web vet
	$(GO) test -race -count=1 -parallel 4 -timeout 19m ./...

clean:
	rm -rf bin out
