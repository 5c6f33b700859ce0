#!/usr/bin/env bash
# The dependency policy (make test): no unused dependency (cargo shear), only allowed licences
# and crates, and crates.io as the only source (cargo deny check licenses bans sources, rules in
# deny.toml). Both run offline.
# `cargo deny check advisories` needs the RustSec database from the internet: the GitHub
# workflow runs it (.github/workflows/ci.yml). scripts/tools.sh installs both tools if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[deps]\033[0m %s\n' "$*" >&2; }
for tool in cargo-shear cargo-deny; do
  command -v "$tool" >/dev/null || { say "$tool is missing: run make tools (scripts/tools.sh)"; exit 1; }
done
say "cargo shear: every dependency a Cargo.toml declares is used"
cargo shear
say "cargo deny check licenses bans sources (deny.toml)"
cargo deny --locked --log-level error check licenses bans sources
say "dependency policy holds (advisories: checked in CI, which reaches the RustSec database)"
