# connwatch — build, test and benchmark entry points.
#
# `make test` is what CI runs (.ci/run). Every target works on a tree with
# no packages, no tests, no fuzz targets and no nested modules yet.

GO ?= go

# Pinned tools, run with `go run pkg@version` so they never enter go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Root-module fuzz time per target: short in `make test`, long in `make fuzz`.
FUZZTIME_SHORT ?= 5s
FUZZTIME ?= 60s

# Extra flags for `go test` in `make test`, e.g. TESTFLAGS='-run TestProbe -v'.
# The shell splits them into words; quote inside what it must not split or
# take as a pipe: TESTFLAGS="-run 'TestProbe|TestClose' -v".
TESTFLAGS ?=

# Cross-vet matrix for the root module (vet type-checks test files too).
CROSS_OSES   ?= linux darwin windows freebsd
CROSS_ARCHES ?= amd64 arm64

# Every Go module in the tree: the root plus each directory with a go.mod,
# skipping testdata, vendor, and hidden or _-prefixed directories. Found at
# run time, so nested modules (examples/grpc, contrib/*) join automatically.
MODULES := $(shell find . \( -name testdata -o -name vendor -o -name '.?*' -o -name '_*' \) -prune \
	-o -name go.mod -print | sed 's|/go.mod$$||' | LC_ALL=C sort)

# has_pkgs is a shell test: true when the module in the current dir has packages.
has_pkgs = [ -n "$$($(GO) list -e ./... 2>/dev/null)" ]

# A stage fails with one line that says what and where.
fail = { echo "make: FAIL: $(1)" >&2; exit 1; }

# Stages of `make test` must run in order, even under -j.
.NOTPARALLEL:

.PHONY: all test vet-test crossvet fuzz-short fuzz bench lint cover soak demo modules

all: test

## test: vet + race tests in every module, cross-vet, short fuzz of the root module.
test: vet-test crossvet fuzz-short
	@echo "make test: OK (modules: $(MODULES))"

## vet-test: go vet and go test -race in every module.
vet-test:
	@set -e; for m in $(MODULES); do \
	  cd "$(CURDIR)/$$m"; \
	  if ! $(has_pkgs); then echo "==> [$$m] no packages yet, skipping"; continue; fi; \
	  echo "==> [$$m] $(GO) vet ./..."; \
	  $(GO) vet ./... || $(call fail,go vet in module $$m); \
	  echo "==> [$$m] $(GO) test -race -count=1 $(TESTFLAGS) ./..."; \
	  $(GO) test -race -count=1 $(TESTFLAGS) ./... || $(call fail,go test -race in module $$m); \
	done

## crossvet: go vet of the root module for every OS x arch in the matrix.
crossvet:
	@set -e; if ! $(has_pkgs); then echo "==> [.] no packages yet, skipping cross-vet"; exit 0; fi; \
	for os in $(CROSS_OSES); do for arch in $(CROSS_ARCHES); do \
	  echo "==> [.] GOOS=$$os GOARCH=$$arch $(GO) vet ./..."; \
	  GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) vet ./... || $(call fail,go vet for $$os/$$arch); \
	done; done

## fuzz-short: every fuzz target of the root module for FUZZTIME_SHORT.
fuzz-short:
	@GO="$(GO)" FUZZTIME="$(FUZZTIME_SHORT)" bash scripts/fuzz.sh || $(call fail,fuzz)

## fuzz: every fuzz target of the root module for FUZZTIME (default 60s each).
fuzz:
	@GO="$(GO)" FUZZTIME="$(FUZZTIME)" bash scripts/fuzz.sh || $(call fail,fuzz)

## bench: raw vs go-conntrack vs tracked benchmarks, root module and bench/* modules
## (COUNT, BENCH, PKG, BENCHMODS, BENCHTIME, INTERLEAVE); see scripts/bench.sh.
bench:
	@GO="$(GO)" bash scripts/bench.sh

## lint: gofmt and staticcheck in every module.
lint:
	@set -e; for m in $(MODULES); do \
	  cd "$(CURDIR)/$$m"; \
	  if ! $(has_pkgs); then echo "==> [$$m] no packages yet, skipping"; continue; fi; \
	  echo "==> [$$m] gofmt -l"; \
	  unformatted=$$($(GO) list -e -f '{{$$d := .Dir}}{{range .GoFiles}}{{$$d}}/{{.}} {{end}}{{range .TestGoFiles}}{{$$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$$d}}/{{.}} {{end}}' ./... | xargs -r gofmt -l); \
	  if [ -n "$$unformatted" ]; then echo "$$unformatted"; $(call fail,gofmt: files above need formatting in module $$m); fi; \
	  echo "==> [$$m] staticcheck ./... ($(STATICCHECK))"; \
	  $(GO) run $(STATICCHECK) ./... || $(call fail,staticcheck in module $$m); \
	done

## cover: coverage of the root module into coverage.out, then the per-function table and total.
cover:
	@if ! $(has_pkgs); then echo "==> no packages yet, no coverage"; exit 0; fi; \
	$(GO) test -count=1 -covermode=atomic -coverpkg=./... -coverprofile=coverage.out ./... || $(call fail,go test -cover); \
	$(GO) tool cover -func=coverage.out || $(call fail,go tool cover)

## soak: long race-enabled soak tests (build tag soak) of the root module.
soak:
	@if ! $(has_pkgs); then echo "==> no packages yet, no soak tests"; exit 0; fi; \
	echo "==> $(GO) test -race -count=1 -run Soak -tags soak -timeout 30m ./..."; \
	$(GO) test -race -count=1 -run Soak -tags soak -timeout 30m ./... || $(call fail,soak)

## demo: run the command-line demo.
demo:
	@[ -d cmd/connwatch ] || $(call fail,demo: cmd/connwatch does not exist yet)
	$(GO) run ./cmd/connwatch demo

## modules: list the modules that the loops above visit.
modules:
	@for m in $(MODULES); do echo "$$m"; done
