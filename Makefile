# Zaki's build. `make help` lists every target.

SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

# Pinned tool versions, installed into bin/tools by `make tools`.
BUF_VERSION                ?= v1.75.0
PROTOC_GEN_GO_VERSION      ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2

TOOLS   := $(CURDIR)/bin/tools
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/zaki-platform/zaki/internal/version.Version=$(VERSION)
# Static binaries: they run in FROM-scratch images and on any Linux host.
GOBUILD := CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)'

ECHO_IMAGE ?= zaki-echo:v1
ZAKI_IMAGE ?= zaki:dev
TGSTANDIN_IMAGE ?= zaki-tgstandin:dev
TEST_TIMEOUT ?= 25m
FLEET_TEST_TIMEOUT ?= 20m

.PHONY: help
help: ## List every target with what it does.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/zaki (every role), bin/zaki-echo (the echo assistant) and bin/zaki-tgstandin (Telegram stand-in), static.
	$(GOBUILD) -o bin/zaki ./cmd/zaki
	$(GOBUILD) -o bin/zaki-echo ./cmd/zaki-echo
	$(GOBUILD) -o bin/zaki-tgstandin ./cmd/zaki-tgstandin

.PHONY: tools
tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc ## Install the pinned code generators into bin/tools.

$(TOOLS)/buf:
	GOBIN=$(TOOLS) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

.PHONY: gen
gen: tools ## Regenerate gen/ from proto/ with buf.
	PATH="$(TOOLS):$$PATH" buf generate

.PHONY: check-gen
check-gen: gen ## Regenerate and fail if gen/ differs from what is committed.
	@git diff --exit-code -- gen/ || { echo "gen/ is stale: run 'make gen' and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has files not committed: run 'make gen' and commit"; exit 1; }

.PHONY: lint
lint: tools ## buf lint, go vet and gofmt.
	PATH="$(TOOLS):$$PATH" buf lint
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "not gofmt-clean:"; echo "$$out"; exit 1; }

.PHONY: test
test: ## Run every test: unit, real etcd, real Docker (fails under CI=true without Docker); under CI=true also test-fleet.
	go vet ./...
	go test -count=1 -timeout $(TEST_TIMEOUT) ./...
	@if [ "$$CI" = true ]; then $(MAKE) test-fleet; fi

FUZZTIME ?= 60s

.PHONY: fuzz
fuzz: ## Fuzz the update parser and the webhook for FUZZTIME each (make test runs their seed corpus only).
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./router/update/
	go test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime $(FUZZTIME) ./router/

.PHONY: test-fleet
test-fleet: images ## Run the multi-host suite (fleet/) on a local fleet of its own: faults, partitions, joins.
	ZAKI_FLEET_TEST=1 go test -count=1 -v -timeout $(FLEET_TEST_TIMEOUT) ./fleet/

.PHONY: images
images: build ## Build every image Zaki runs, locally: the echo assistant, zaki itself, the Telegram stand-in.
	docker build -q -f deploy/docker/echo.Dockerfile -t $(ECHO_IMAGE) .
	docker build -q -f deploy/docker/zaki.Dockerfile -t $(ZAKI_IMAGE) .
	docker build -q -f deploy/docker/tgstandin.Dockerfile -t $(TGSTANDIN_IMAGE) .

.PHONY: fleet-up
fleet-up: images ## Build the images and start a local fleet (deploy/compose/fleet.sh up): 3 control planes, 3 agents, a router.
	deploy/compose/fleet.sh up

.PHONY: fleet-down
fleet-down: ## Stop the local fleet and remove everything it made, tenants' containers and volumes included.
	deploy/compose/fleet.sh down

.PHONY: run
run: images ## Start `zaki dev`: everything on this machine, playing the sample conversation.
	bin/zaki dev

.PHONY: clean
clean: ## Remove bin/.
	rm -rf bin
