#!/usr/bin/env bash
# The local CloudWatch dashboard in a real browser, against a running `make dev` (readme-check.sh
# calls it; usage: scripts/dashboard-check.sh http://127.0.0.1:<port>):
#   1. make load (short steps) sends traffic over every route and pauses/resumes billing;
#   2. GET /_local/metrics: every widget with a locally recorded metric has datapoints, every
#      alarm has a state, and no 5xx alarm fired;
#   3. headless Chromium (Debian package `chromium`, scripts/tools.sh installs it if missing) opens
#      /_local/dashboard: the DOM it renders has a chart with data for those widgets and a state
#      for every alarm; it saves the screenshot the README shows (docs/dashboard.png);
#   4. the page's cost: the gateway's CPU time (utime+stime from /proc) per /_local/metrics call.
set -euo pipefail
URL=${1:?usage: dashboard-check.sh http://127.0.0.1:<port>}
PORT=${URL##*:}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
say() { printf '\033[1m[dashboard-check]\033[0m %s\n' "$*" >&2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dashboard-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

CHROMIUM=$(scripts/tools.sh chromium)

say "make load (LOAD_STEP_SECS=${LOAD_STEP_SECS:=2})"
LOAD_STEP_SECS=$LOAD_STEP_SECS make -s load LOCAL_GATEWAY_PORT="$PORT"

say "GET /_local/metrics: every widget has data, every alarm a state"
curl -fsS "$URL/_local/metrics?range=900" >"$WORK/metrics.json"
python3 - "$WORK/metrics.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = [w["title"] for w in d["widgets"]
       if not all(m["aws_only"] for m in w["metrics"]) and not any(m["points"] for m in w["metrics"])]
if bad:
    sys.exit(f"widgets without data: {bad}")
states = {a["name"]: a["state"] for a in d["alarms"]}
odd = {n: s for n, s in states.items() if s not in ("OK", "ALARM", "INSUFFICIENT_DATA", "AWS_ONLY")}
if odd or not states:
    sys.exit(f"alarms without a state: {odd or 'none listed'}")
depth = [p[1] for w in d["widgets"] for m in w["metrics"] if m["metric"] == "MessageCount"
         and {"Name": "Queue", "Value": "billing_queue"} in m["dimensions"] for p in m["points"]]
if not depth or max(depth) == 0:
    sys.exit("the billing_queue backlog never showed while billing was paused")
if states.get("api-5xx") == "ALARM":
    sys.exit("api-5xx is in ALARM after make load")
print(f"  {len(d['widgets'])} widgets, {len(states)} alarms: " +
      ", ".join(f"{s} {sum(1 for v in states.values() if v == s)}" for s in sorted(set(states.values()))))
PY

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$WORK/profile")
say "headless Chromium renders $URL/_local/dashboard"
timeout 120 "$CHROMIUM" "${flags[@]}" --virtual-time-budget=4000 --dump-dom "$URL/_local/dashboard" \
  >"$WORK/dom.html" 2>"$WORK/chromium.log" || { tail -20 "$WORK/chromium.log" >&2; say "chromium failed"; exit 1; }
python3 - "$WORK/dom.html" "$WORK/metrics.json" <<'PY'
import json, re, sys
dom = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
if 'data-loaded="true"' not in dom:
    err = re.search(r'data-error="([^"]*)"', dom)
    sys.exit(f"the page did not load its data: {err.group(1) if err else 'no data-loaded'}")
widgets = re.findall(r'<section class="widget" data-title="([^"]*)" data-points="(\d+)" data-aws-only="(true|false)"', dom)
if len(widgets) != len(d["widgets"]):
    sys.exit(f"the page drew {len(widgets)} widgets, the definition has {len(d['widgets'])}")
empty = [t for t, n, aws in widgets if aws == "false" and int(n) == 0]
if empty:
    sys.exit(f"charts without data in the browser: {empty}")
if dom.count("<path ") < len(widgets) - sum(1 for *_, a in widgets if a == "true"):
    sys.exit("fewer chart lines than widgets with data")
alarms = re.findall(r'data-alarm="([^"]*)" data-state="([A-Z_]+)"', dom)
if len(alarms) != len(d["alarms"]):
    sys.exit(f"the page lists {len(alarms)} alarms, the definition has {len(d['alarms'])}")
print(f"  the browser drew {len(widgets)} widgets and {len(alarms)} alarm states")
PY
timeout 120 "$CHROMIUM" "${flags[@]}" --virtual-time-budget=4000 --window-size=1400,1560 \
  --screenshot="$WORK/dashboard.png" "$URL/_local/dashboard#range=300" >/dev/null 2>&1
[ -s "$WORK/dashboard.png" ] || { say "no screenshot"; exit 1; }
cp "$WORK/dashboard.png" docs/dashboard.png
say "screenshot: docs/dashboard.png"

# The gateway is the process listening on the port.
PID=$(ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
if [ -n "$PID" ]; then
  N=${DASHBOARD_CPU_REQUESTS:-200}
  ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
  hz=$(getconf CLK_TCK)
  before=$(ticks)
  for _ in $(seq "$N"); do curl -fsS -o /dev/null "$URL/_local/metrics?range=900"; done
  after=$(ticks)
  say "page cost: $(( (after - before) * 1000000 / hz / N )) µs of gateway CPU per /_local/metrics call (range 15 min, $N calls; the page calls it every 5 s)"
fi
