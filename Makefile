# crud-master, serverless Rust on AWS. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := set -a; source .local/env; set +a;
FUNCTIONS := inventory billing-api billing-consumer setup

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## install what the build needs if missing (rustfmt, clippy, cargo-lambda, openapi validator)
	@scripts/tools.sh

.PHONY: services
services: ## start (or reuse) the private PostgreSQL, RabbitMQ and moto on loopback
	@scripts/services.sh up

.PHONY: services-down
services-down: ## stop them (data stays in .local/)
	@scripts/services.sh down

.PHONY: migrate
migrate: services ## create the local databases and apply migrations/
	@$(ENV) cargo run -q -p setup --bin setup -- local

.PHONY: test
test: tools services ## run every test: lint, unit, integration (real PostgreSQL/RabbitMQ/moto), end-to-end, OpenAPI, Terraform
	@echo "== format and lint"
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -q -- -D warnings
	@echo "== OpenAPI contract"
	python3 -m openapi_spec_validator openapi.yaml
	@echo "== Rust tests (real PostgreSQL, RabbitMQ and moto)"
	@$(ENV) scripts/drop-test-databases.sh
	@$(ENV) cargo test --workspace
	@echo "== Terraform"
	@$(MAKE) --no-print-directory tf-check tf-moto

.PHONY: build
build: tools ## release zips for AWS: target/lambda/<function>/bootstrap.zip (arm64)
	cargo lambda build --release --arm64 --output-format zip $(addprefix --bin ,$(FUNCTIONS))
	@ls -l target/lambda/*/bootstrap.zip

.PHONY: tf-check
tf-check: ## terraform fmt + validate (real AWS provider) + checkov
	@scripts/tf-check.sh

.PHONY: tf-moto
tf-moto: ## terraform apply + destroy of the whole stack against moto
	@scripts/tf-moto.sh

.PHONY: fmt
fmt: ## format Rust and Terraform
	cargo fmt --all
	terraform fmt -recursive terraform
