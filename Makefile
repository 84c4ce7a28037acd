# zkload: `make` runs the main job, `make test` the tests. Both install what is missing first.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

.PHONY: all setup build test vet zk-demo http-demo clean

all: setup build zk-demo http-demo

setup:
	@bash scripts/setup.sh

build:
	$(GO) build -o bin/zkload ./zkload

# A headless Locust master with zkload workers against a local ZooKeeper (or the
# ensemble in ZK_LOCUST_HOSTS).
zk-demo: build
	@bash scripts/zk-demo.sh

# A headless Locust master with zkload workers against a local HTTP target.
http-demo: build
	@bash scripts/http-demo.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

test: setup vet
	$(GO) test -race -count=1 -timeout 6m ./...

clean:
	rm -rf bin out
