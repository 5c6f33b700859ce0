# crud-master, serverless Rust on AWS. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := set -a; source .local/env; set +a;
FUNCTIONS := inventory billing-api billing-consumer setup

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## install what the build needs if missing (rustfmt, clippy, cargo-lambda, openapi validator, cargo-shear, cargo-deny, the AWS CLI)
	@scripts/tools.sh

.PHONY: services
services: ## start (or reuse) the private PostgreSQL, RabbitMQ and moto on loopback
	@scripts/services.sh up

.PHONY: services-down
services-down: ## stop them (data stays in .local/)
	@scripts/services.sh down

.PHONY: migrate
migrate: services ## create the local databases and apply migrations/
	@cargo build --locked -q --release $(RELEASE_PACKAGES)
	@$(ENV) target/release/setup local

# The gateway's integration tests that run in-process and need no service (esm.rs and
# aws_cli.rs need RabbitMQ, aws_cli.rs the AWS CLI too: they run in make test).
CHECK_GATEWAY_TESTS := --test gateway --test lambda --test watch

.PHONY: check
check: ## the fast tier for the edit loop, no services (under 3 minutes warm): fmt, clippy, unit tests, the gateway's in-process tests
	@$(MAKE) --no-print-directory lint
	@echo "== unit tests and in-process integration tests (no services)"
	cargo test --locked -q --workspace --lib --bins
	cargo test --locked -q -p local-gateway $(CHECK_GATEWAY_TESTS)

# Not listed by make help: the first step of both tiers.
.PHONY: lint
lint:
	@echo "== format and lint"
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -q -- -D warnings

.PHONY: test
test: tools services ## run every test: lint, dependency policy, migrations against the previous release, unit, integration (real PostgreSQL/RabbitMQ/moto), end-to-end, OpenAPI, Terraform, container images, docs, README
	@$(MAKE) --no-print-directory lint
	@echo "== dependency policy: no unused crate (cargo shear), allowed licences and no banned crate (cargo deny)"
	@scripts/deps-check.sh
	@echo "== the product builds without its harness: no product crate depends on it, each function links only what it uses, the product alone resolves to Cargo.lock's versions"
	@python3 scripts/product-check.py
	@echo "== OpenAPI contract"
	python3 -m openapi_spec_validator openapi.yaml
	@echo "== migrations: each one PREPAREs the SQL of the release before it (expand, then contract); then its self-test"
	@$(ENV) python3 scripts/migration-compat.py
	@$(ENV) python3 scripts/migration-compat.py --self-test
	@echo "== release builds (once: the end-to-end smoke test runs them, then make dev in the README check)"
	@$(MAKE) --no-print-directory release-bins
	@echo "== Rust tests (real PostgreSQL, RabbitMQ and moto)"
	@$(ENV) scripts/drop-test-databases.sh
	@$(ENV) set -o pipefail; cargo test --locked --workspace --no-fail-fast 2>&1 | tee .local/cargo-test.log
	@$(ENV) scripts/drop-test-databases.sh
	@# make build (the arm64 zips) is mostly single-threaded link-time optimisation, and Terraform
	@# against moto leaves a core idle: together they take the time of the longer one. Neither
	@# needs the other (tf-moto deploys stand-in zips); the README check runs make build again,
	@# which then has nothing to do.
	@echo "== Terraform, while make build makes the AWS zips beside it (.local/build.log)"
	@$(MAKE) --no-print-directory build >.local/build.log 2>&1 & build=$$!; \
	  $(MAKE) --no-print-directory tf-check tf-moto; tf=$$?; \
	  if ! wait $$build; then tail -40 .local/build.log >&2; echo "make build failed (above; all of it in .local/build.log)" >&2; exit 1; fi; \
	  echo "make build: $$(ls target/lambda/*/bootstrap.zip | wc -l) zips (.local/build.log)"; exit $$tf
	@echo "== container images: hadolint, make images (buildah, FROM scratch), then each image's own filesystem runs setup, a movie and an order"
	@scripts/images.sh lint
	@scripts/images.sh build
	@$(ENV) scripts/images.sh check
	@echo "== make rollout's decisions against recorded AWS answers (scripts/tests/)"
	python3 -m unittest discover -s scripts/tests
	@echo "== GitHub workflows (actionlint, zizmor)"
	@scripts/lint-workflows.sh
	@echo "== docs: docs/configuration.md generated from the source, figures checked against it, links"
	@python3 scripts/docs-check.py
	@echo "== README and HTTP contract: every make target, the quickstart, newman and schemathesis, against a real make dev"
	@scripts/readme-check.sh
	@awk '/^test result:/ {p+=$$4; f+=$$6; i+=$$8} END {printf "tests: %d passed, %d failed, %d skipped\n", p, f, i}' .local/cargo-test.log

# What make dev runs (scripts/dev.sh calls this target) and e2e_gateway's smoke test needs.
RELEASE_PACKAGES := -p inventory -p billing-api -p billing-consumer -p setup -p local-gateway
.PHONY: release-bins
release-bins: ## release builds of the functions, setup and the local gateway (what make dev runs and e2e_gateway's smoke test needs)
	cargo build --locked --release $(RELEASE_PACKAGES)

.PHONY: build
build: tools ## release zips for AWS: target/lambda/<function>/bootstrap.zip (arm64, static)
	@# One build for all four: the libraries have no features, so each binary links only the
	@# crates it depends on (docs/architecture.md, "Crates"). musl links them statically: the same
	@# bootstrap runs on provided.al2023 (zip) and alone in an image from scratch (make images).
	cargo lambda build --locked --release --target aarch64-unknown-linux-musl --output-format zip $(addprefix -p ,$(FUNCTIONS))
	@ls -l target/lambda/*/bootstrap.zip

# The dev profile (terraform/profiles/dev.tfvars) has no RDS Proxy: the functions verify the RDS
# instance's certificate with the RDS CA bundle, published as a layer
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html).
RDS_CA_URL := https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
.PHONY: images
images: build ## one container image per function from functions/Dockerfile (buildah, FROM scratch): target/images/oci/<function>, sizes and build times printed
	@scripts/images.sh build

.PHONY: web
web: ## the web client: web/dist (assets named by their hash, index.html) for make dev and S3; node, no dependency
	@node web/build.mjs

.PHONY: rds-ca-layer
rds-ca-layer: ## the RDS CA bundle as a layer for the dev profile (no RDS Proxy): target/lambda/rds-ca-layer.zip (downloads from AWS)
	@mkdir -p target/lambda/rds-ca-layer/rds-ca
	curl -fsS -o target/lambda/rds-ca-layer/rds-ca/global-bundle.pem $(RDS_CA_URL)
	@grep -q "BEGIN CERTIFICATE" target/lambda/rds-ca-layer/rds-ca/global-bundle.pem
	cd target/lambda/rds-ca-layer && rm -f ../rds-ca-layer.zip && python3 -m zipfile -c ../rds-ca-layer.zip rds-ca
	@ls -l target/lambda/rds-ca-layer.zip

.PHONY: tf-check
tf-check: ## terraform fmt + validate (real AWS provider) + checkov
	@scripts/tf-check.sh

.PHONY: tf-moto
tf-moto: ## terraform apply, an empty second plan, then destroy of the whole stack against moto
	@scripts/tf-moto.sh

.PHONY: fmt
fmt: ## format Rust and Terraform
	cargo fmt --all
	terraform fmt -recursive terraform

# ---- local platform (scripts/dev.sh, local/) ----
LOCAL_GATEWAY_PORT ?= 3000
# `USER` is also the login name in the environment: only `make token USER=...` picks the user.
TOKEN_USER = $(if $(filter command line,$(origin USER)),$(USER),user)

.PHONY: dev
dev: ## run the whole platform locally on http://127.0.0.1:3000 (services, migrations, Cognito, functions, gateway); WATCH=1 runs debug builds, rebuilt on save; Ctrl-C stops it
	@WATCH=$(WATCH) scripts/dev.sh

# The moto setup and tokens (local/gateway/src/localaws.rs). scripts/dev.sh builds it with the
# functions; built here only when absent or older than its sources, with the same packages as
# scripts/dev.sh so cargo reuses the same artifacts.
LOCALAWS := target/release/localaws
$(LOCALAWS): $(shell find local/gateway/src functions -name '*.rs' 2>/dev/null) local/gateway/Cargo.toml
	@echo "building $@ (release, with the functions, as make dev does; once)" >&2
	@cargo build --locked -q --release $(RELEASE_PACKAGES) >&2
	@touch $@

.PHONY: local-env
local-env:
	@[ -f .local/env ] || { echo "no local services yet: run make dev first" >&2; exit 1; }

.PHONY: token
token: local-env $(LOCALAWS) ## print an access token for `user` (make token USER=admin for `admin`), and nothing else
	@$(ENV) $(LOCALAWS) token $(TOKEN_USER)

.PHONY: machine-token
machine-token: local-env $(LOCALAWS) ## print a client-credentials token of the local machine client (make machine-token SCOPES="movies.read"; default every scope)
	@$(ENV) $(LOCALAWS) machine-token $(SCOPES)

.PHONY: verify
verify: ## the deployed stack checks itself: the mapping, proxy targets, broker, alarms, then 401s and an order stored via the public URL (terraform output; AWS CLI); LOCAL=1: against make dev
	@python3 scripts/verify.py $(if $(filter 1,$(LOCAL)),--local)

.PHONY: rollout
rollout: ## after terraform apply: shift each changed function's live alias to its new version through CodeDeploy (10% for 5 minutes, then all), then make verify; an alarm, a failed deployment or a failed verify puts every function back (terraform output; AWS CLI)
	@python3 scripts/rollout.py

# The AWS CLI against the gateway's Lambda API, as against AWS (docs/operations.md), with the
# local dummy credentials and Region of .local/env; scripts/tools.sh pins and installs it.
LOCAL_LAMBDA = "$$aws" lambda --endpoint-url http://127.0.0.1:$(LOCAL_GATEWAY_PORT)
# $(call billing_mapping,--no-enabled|--enabled): update-event-source-mapping on the mapping
# of billing-consumer, found with list-event-source-mappings; prints its State.
define billing_mapping
	@curl -fsS -o /dev/null http://127.0.0.1:$(LOCAL_GATEWAY_PORT)/_local/health || { echo "no local gateway on port $(LOCAL_GATEWAY_PORT): run make dev" >&2; exit 1; }
	@$(ENV) aws=$$(scripts/tools.sh aws) || exit 1; \
	uuid=$$($(LOCAL_LAMBDA) list-event-source-mappings --function-name billing-consumer --query 'EventSourceMappings[0].UUID' --output text) || exit 1; \
	[ -n "$$uuid" ] && [ "$$uuid" != None ] || { echo "the gateway on port $(LOCAL_GATEWAY_PORT) has no event source mapping for billing-consumer" >&2; exit 1; }; \
	state=$$($(LOCAL_LAMBDA) update-event-source-mapping --uuid "$$uuid" $(1) --query State --output text) || exit 1; \
	echo "billing event source mapping $$uuid: $$state" >&2
endef

.PHONY: billing-pause
billing-pause: local-env ## stop delivering billing_queue to billing-consumer: aws lambda update-event-source-mapping --no-enabled against the gateway
	$(call billing_mapping,--no-enabled)
	@echo "orders wait in billing_queue until make billing-resume" >&2

.PHONY: billing-resume
billing-resume: local-env ## deliver billing_queue to billing-consumer again (update-event-source-mapping --enabled)
	$(call billing_mapping,--enabled)

.PHONY: load
load: local-env $(LOCALAWS) ## traffic for the dashboard (needs make dev): ramps 1..16 users over every route, pauses and resumes billing; loopback, bounded, one line per step
	@curl -fsS -o /dev/null http://127.0.0.1:$(LOCAL_GATEWAY_PORT)/_local/health || { echo "no local gateway on port $(LOCAL_GATEWAY_PORT): run make dev" >&2; exit 1; }
	@cargo build --locked -q -p bench --bin load
	@$(ENV) TOKEN=$$($(LOCALAWS) token user) GATEWAY_URL=http://127.0.0.1:$(LOCAL_GATEWAY_PORT) target/debug/load

.PHONY: bench
bench: services ## measure cold start, latency, throughput, size, RSS and the power tuning under Lambda's CPU share; writes bench/results.md and docs/performance.md
	cargo build --locked --release -p inventory -p billing-api -p billing-consumer
	cargo build --locked --release -p bench
	@$(ENV) target/release/bench

.PHONY: bench-profile
bench-profile: services ## perf profile of the cold starts under the 256 MB CPU share: the top symbols per function (writes nothing in the repo)
	@bench/profile.sh
