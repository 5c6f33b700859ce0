#!/usr/bin/env bash
# The web client in headless Chromium against a running `make dev` (readme-check.sh calls it;
# usage: scripts/web-check.sh http://127.0.0.1:<port>): tests/web/browser.mjs drives Debian's
# chromium through playwright-core (npm, pinned by tests/web/package-lock.json; no browser
# download), signs in, edits the catalogue, places an order while billing is paused, and saves
# the screenshot the README shows (docs/web.png). Prints the page weight and the time to a
# usable page.
set -euo pipefail
URL=${1:?usage: web-check.sh http://127.0.0.1:<port>}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf '\033[1m[web-check]\033[0m %s\n' "$*" >&2; }

CHROMIUM=$(scripts/tools.sh chromium)
want=$(python3 -c 'import json; print(json.load(open("tests/web/package.json"))["devDependencies"]["playwright-core"])')
have=$(node -p 'require("./tests/web/node_modules/playwright-core/package.json").version' 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  say "installing playwright-core $want (npm ci: the library only, the browser is Debian's)"
  (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
CHROMIUM="$CHROMIUM" node tests/web/browser.mjs "$URL" .local/cognito.env docs/web.png
