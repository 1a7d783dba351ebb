# slod — run `make help` for the targets.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
PKGS     := ./...
# The image deploy/kubernetes pulls: `make image VERSION=v0.1.0` on the release tag builds the tag
# the manifests name (deploy/deploy_test.go holds them to it).
IMAGE    ?= ghcr.io/slod-dev/slod

.PHONY: help build test lint bench fuzz image sbom release clean

SBOM_TOOL := github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
PLATFORMS := linux/amd64 linux/arm64

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/slod (static, version from git)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/slod ./cmd/slod

# Each fuzz target runs briefly on every `make test`; run one longer by hand, e.g.
#   go test -run '^$$' -fuzz FuzzParse -fuzztime 10m ./internal/rules
FUZZ_TARGETS := ./internal/rules:FuzzParse ./internal/burnrate:FuzzHistoryUnmarshal \
	./internal/store:FuzzDecode ./internal/notify:FuzzUnmarshalPayload ./internal/unittest:FuzzDecode
FUZZTIME ?= 5s

test: ## the whole suite: unit + integration tests, the shipped rules and their tests, brief fuzzing
	$(GO) test -count=1 -timeout 20m $(PKGS)
	$(GO) run ./cmd/slod validate rules/
	$(GO) run ./cmd/slod test rules/tests/ examples/openslo/tests/
	$(MAKE) --no-print-directory fuzz

fuzz: ## run every fuzz target for FUZZTIME (default 5s)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} in $${t%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%:*}"; \
	done

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench: ## benchmarks (go test -bench), figures for the issues' targets; SLOD_BENCH_SLOS=100,1000,10000 adds 10,000 SLOs to the daemon's (~6 min more)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

image: ## docker image $(IMAGE):$(VERSION) from deploy/Dockerfile (needs a Docker engine)
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t $(IMAGE):$(VERSION) .

sbom: build ## CycloneDX SBOM of the modules linked into bin/slod → bin/slod.cdx.json
	$(GO) run $(SBOM_TOOL) bin -json -version $(VERSION) -output bin/slod.cdx.json bin/slod

release: ## dist/VERSION: static binaries per platform, their SBOMs, SHA256SUMS
	rm -rf dist/$(VERSION) && mkdir -p dist/$(VERSION)
	set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/$(VERSION)/slod-$(VERSION)-$$os-$$arch; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/slod; \
		$(GO) run $(SBOM_TOOL) bin -json -version $(VERSION) -output $$out.cdx.json $$out; \
	done
	cd dist/$(VERSION) && sha256sum slod-* > SHA256SUMS && sha256sum -c SHA256SUMS

clean: ## remove build output
	rm -rf bin dist
