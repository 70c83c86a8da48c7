# tend — see README.md. Everything CI needs is installed from here.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/tend
# The commit tend names in --version (builds here run with -buildvcs=false).
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo +dirty)
APT_PACKAGES := debootstrap systemd-container openssh-client iproute2 sudo shellcheck acl
BENCH_APT_PACKAGES := ansible sshpass

.PHONY: all build test unit e2e vet demo bench bench-ssh-hardening bench-scale deps bench-deps clean fleet-cleanup

all: build

build:
	$(GO) build -ldflags "-X main.commit=$(COMMIT)" -o $(BIN) ./cmd/tend

# deps installs what the real-host suite needs (Debian packages, as root)
# and downloads the Go modules.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	$(GO) mod download

bench-deps: deps
	@missing=""; for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) run ./cmd/tend fmt --check examples

unit:
	$(GO) test -race -count=1 ./...

# e2e boots real Debian hosts (systemd-nspawn) and runs tend against them.
e2e: deps build
	@log=$$(mktemp /tmp/tend-e2e.XXXXXX.log); \
	if $(GO) test -count=1 -tags e2e -timeout 25m -v ./test/e2e/ >$$log 2>&1; then \
	  grep -E '^(\s*--- |PASS|ok )|round trips|hosts up' $$log; \
	else \
	  cat $$log; echo "e2e failed (log: $$log)"; exit 1; \
	fi

# test is what CI runs: vet, unit tests, then the real-host e2e suite.
test: deps vet unit e2e

# demo boots a throwaway 3-host fleet, runs plan, apply and plan again on the
# staffrota example, and tears the fleet down.
demo: deps build
	$(GO) run ./test/fleet/cmd/fleet run -n 3 -name demo -- bash scripts/demo.sh

bench: bench-deps build
	$(GO) run ./bench

# bench-ssh-hardening measures examples/ssh-hardening against
# bench/ansible/ssh-hardening.yml; it rewrites only its section of
# BENCHMARKS.md.
bench-ssh-hardening: bench-deps build
	$(GO) run ./bench -scenario ssh-hardening

# bench-scale measures one controller against simulated fleets of 100,
# 1,000 and 10,000 converged hosts (test/simfleet, on loopback: no root, no
# real fleet); it rewrites only its section of BENCHMARKS.md.
bench-scale: build
	$(GO) run ./bench -scenario scale

# fleet-cleanup removes what crashed test (tf), demo and bench fleets left.
fleet-cleanup:
	for p in tf demo bench; do $(GO) run ./test/fleet/cmd/fleet cleanup -prefix $$p || exit 1; done

clean:
	rm -rf bin
