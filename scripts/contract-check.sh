#!/usr/bin/env bash
# The HTTP contract, checked against a running local gateway (`make dev`):
#
#   1. newman runs the Postman collection (postman/) - the crud-master audit's own tool, with its
#      URLs and bodies - with a user and an admin token from `make token`;
#   2. schemathesis drives every operation of openapi.yaml with a user token, then with an admin
#      token: all checks (one disabled, see tests/contract/schemathesis.toml), the examples,
#      coverage, fuzzing and stateful phases, a fixed seed, a bounded number of examples.
#
# Both must report 0 failures. The movies table is emptied (as admin) before each schemathesis
# pass, so every run starts from the same state.
#
#   scripts/contract-check.sh http://127.0.0.1:<port>      (scripts/readme-check.sh calls it)
#
# Installs its tools when missing, pinned, under .local/tools/ (gitignored): newman from npm,
# schemathesis from PyPI in a virtualenv of its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1m[contract-check]\033[0m %s\n' "$*" >&2; }
URL="${1:?usage: scripts/contract-check.sh http://127.0.0.1:<gateway port>}"
NEWMAN_VERSION=6.2.2
SCHEMATHESIS_VERSION=4.32.5
TOOLS="$ROOT/.local/tools"
NEWMAN="$TOOLS/newman-$NEWMAN_VERSION/node_modules/.bin/newman"
ST="$TOOLS/schemathesis-$SCHEMATHESIS_VERSION/bin/st"

# npm: the machine's, else (Node.js present but its npm broken or absent, as a failed
# `npm install -g npm` leaves it) npm itself from the npm registry, pinned by its integrity hash
# (npm's package bundles its dependencies), else Debian's nodejs and npm.
NPM_VERSION=10.9.2
NPM_INTEGRITY=sha512-iriPEPIkoMYUy3F6f3wwSZAU93E0Eg6cHwIR6jzzOXWSy+SD/rOODEs74cVONHKSx2obXtuUoyidVEhISrisgQ==
npm_cmd() {
  if npm --version >/dev/null 2>&1; then npm "$@"; return; fi
  if command -v node >/dev/null; then
    local dir="$TOOLS/npm-$NPM_VERSION"
    if [ ! -f "$dir/package/bin/npm-cli.js" ]; then
      say "the machine's npm does not run: npm $NPM_VERSION from the npm registry into .local/tools"
      rm -rf "$dir" && mkdir -p "$dir"
      curl -fsS -o "$dir/npm.tgz" "https://registry.npmjs.org/npm/-/npm-$NPM_VERSION.tgz"
      [ "sha512-$(openssl dgst -sha512 -binary "$dir/npm.tgz" | openssl base64 -A)" = "$NPM_INTEGRITY" ] \
        || { say "npm-$NPM_VERSION.tgz does not match its pinned integrity hash"; rm -rf "$dir"; exit 1; }
      tar -xzf "$dir/npm.tgz" -C "$dir"
    fi
    node "$dir/package/bin/npm-cli.js" "$@"
    return
  fi
  say "installing nodejs and npm (apt-get)"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  npm "$@"
}

if [ ! -x "$NEWMAN" ]; then
  say "installing newman $NEWMAN_VERSION (npm) into .local/tools"
  npm_cmd install --silent --no-audit --no-fund --prefix "$TOOLS/newman-$NEWMAN_VERSION" "newman@$NEWMAN_VERSION" >/dev/null
fi
if [ ! -x "$ST" ]; then
  python3 -c 'import venv, ensurepip' 2>/dev/null || { say "installing python3-venv (apt-get)"; apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
  say "installing schemathesis $SCHEMATHESIS_VERSION (PyPI) into .local/tools"
  rm -rf "$TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
  python3 -m venv "$TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
  "$TOOLS/schemathesis-$SCHEMATHESIS_VERSION/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

TOKEN=$(make -s token)
ADMIN=$(make -s token USER=admin)
VIEWER=$(make -s token USER=viewer)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS

say "newman $NEWMAN_VERSION: postman/crud-master.postman_collection.json against $URL"
if ! "$NEWMAN" run postman/crud-master.postman_collection.json \
    -e postman/local.postman_environment.json \
    --env-var "baseUrl=$URL" --env-var "token=$TOKEN" --env-var "adminToken=$ADMIN" --env-var "viewerToken=$VIEWER" \
    --reporters cli,json --reporter-json-export "$WORK/newman.json" --color off >"$WORK/newman.log" 2>&1; then
  cat "$WORK/newman.log" >&2; say "newman: a request or an assertion failed (above)"; exit 1
fi
newman_summary=$(python3 - "$WORK/newman.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["run"]["stats"]
print(f"{s['requests']['total']} requests, {s['assertions']['total'] - s['assertions']['failed']} assertions passed, {s['assertions']['failed']} failed")
PY
)
say "newman: $newman_summary"

empty_movies() {
  curl -fsS -o /dev/null -X DELETE -H "Authorization: Bearer $ADMIN" "$URL/api/movies" \
    || { say "could not empty the movies table as admin"; exit 1; }
}
schemathesis() {
  local who=$1 token=$2
  empty_movies
  say "schemathesis $SCHEMATHESIS_VERSION as $who: all checks, examples/coverage/fuzzing/stateful, fixed seed"
  local t0=$SECONDS
  if ! NO_COLOR=1 "$ST" --config-file tests/contract/schemathesis.toml run openapi.yaml \
      --url "$URL" -H "Authorization: Bearer $token" \
      --phases examples,coverage,fuzzing,stateful \
      --report junit --report-junit-path "$WORK/st-$who.xml" >"$WORK/st-$who.log" 2>&1; then
    cat "$WORK/st-$who.log" >&2; say "schemathesis as $who found failures (above)"; exit 1
  fi
  local cases
  cases=$(python3 - "$WORK/st-$who.log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"(\d+) generated", text)
print(m.group(1) if m else "?")
PY
)
  say "schemathesis as $who: 0 failures, $cases test cases in $((SECONDS - t0)) s"
  sed -n '/ SUMMARY /,$p' "$WORK/st-$who.log" | grep -E "Tested|✅|❌|⏭|generated|Seed|in [0-9.]+s" >&2 || true
}
schemathesis user "$TOKEN"
schemathesis admin "$ADMIN"
empty_movies
echo "contract-check: newman $newman_summary; schemathesis 0 failures (user, admin); $((SECONDS - started)) s"
