#!/usr/bin/env bash
# The README and docs/ must stay true: this runs what they tell a reader to run.
#
#   1. every `make` target listed by `make help` is either run here or named in SKIP with the
#      place that runs it (so a new target cannot be forgotten);
#   2. `make dev` is started on a free port, and every shell block of README.md and docs/*.md
#      marked `<!-- readme-check -->` is run verbatim (127.0.0.1:3000 rewritten to that port),
#      in file order, with `set -euo pipefail`: a curl line that fails, fails the check;
#   3. scripts/contract-check.sh runs newman and schemathesis against that same `make dev`, and
#      scripts/dashboard-check.sh runs `make load` and opens the dashboard in headless Chromium,
#      and scripts/web-check.sh drives the web client in it (tests/web/browser.mjs);
#   4. Ctrl-C (SIGINT) stops `make dev` and every function process it started.
# Set READMECHECK_SKIP_BUILD=1 to skip the arm64 cross build (e.g. when iterating locally).
#
# Safe beside another `make dev` or run of this check: what it starts runs under `setsid` in a
# session of its own, and it signals and counts only the processes of those sessions (by
# session id, never by name). The services started by scripts/services.sh leave the session on
# purpose (setsid, pg_ctl) and stay up.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1m[readme-check]\033[0m %s\n' "$*" >&2; }
WORK="$(mktemp -d)"
DEV_PID=
WATCH_PID=
# The live processes of session $1 (a `setsid` child of this script: its pid is the session id).
session() { ps -e -o pid=,sid=,stat= | awk -v sid="$1" '$2 == sid && $3 !~ /^Z/ {print $1}'; }
# SIGTERM, then SIGKILL after 5 s, to every process of session $1.
stop_session() {
  local pids
  pids=$(session "$1"); [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 20); do [ -n "$(session "$1")" ] || return 0; sleep 0.25; done
  pids=$(session "$1"); [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}
# Waits until `setsid` has made $1 the leader of a new session (it does so in place: a
# background child of a script is no process group leader, so setsid does not fork).
own_session() {
  for _ in $(seq 1 40); do
    [ "$(ps -o sid= -p "$1" | tr -d ' ')" = "$1" ] && return 0
    sleep 0.05
  done
  say "process $1 did not become a session leader"; exit 1
}
# Databases of their own, so the check neither sees nor changes the developer's catalogue and
# orders: setup (MOVIES_DB, ORDERS_DB) creates them, the functions use them (local/gateway.yaml).
# t_<pid>_ names: scripts/drop-test-databases.sh drops them should this script die uncleaned.
export MOVIES_DB="t_$$_readme_movies" ORDERS_DB="t_$$_readme_orders"
drop_own_databases() {
  [ -f .local/env ] || return 0
  ( set -a; source .local/env; set +a; export PGPASSWORD="$CRUD_PG_PASSWORD"
    for db in "$MOVIES_DB" "$ORDERS_DB"; do
      psql -qAt -h "$CRUD_PG_HOST" -p "$CRUD_PG_PORT" -U "$CRUD_PG_USER" -d postgres \
        -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done )
}
cleanup() {
  for sid in $DEV_PID $WATCH_PID; do stop_session "$sid"; done
  drop_own_databases
  rm -rf "$WORK"
}
trap cleanup EXIT

# Targets this script does not run itself, and where they are exercised instead.
declare -A SKIP=(
  [test]="it is the command running this check"
  [tf-check]="run by make test just before"
  [tf-moto]="run by make test just before"
  [web]="make dev builds it (scripts/dev.sh) and scripts/web-check.sh opens it in Chromium below"
  [images]="run by make test just before (scripts/images.sh build, then check runs each image)"
  [release-bins]="run by make test before cargo test (e2e_gateway's smoke test); make dev builds the same"
  [bench]="bounded at 10 minutes; run it on purpose (docs/performance.md)"
  [bench-profile]="a release build with symbols and perf; run it on purpose (docs/performance.md)"
  [services-down]="it would stop the servers that concurrent test runs and make dev share; scripts/services.sh down is exercised by hand"
  [fmt]="rewrites files; make test runs cargo fmt --check instead"
  [rds-ca-layer]="downloads the RDS CA bundle from AWS, which this machine cannot reach; tf-moto applies the dev profile with a stand-in layer"
  [check]="its lint step is make test's first step, and make test's cargo test runs its tests"
  [rollout]="it needs a deployed stack (CodeDeploy, published versions); make test runs scripts/tests/test_rollout.py against recorded AWS answers, and tf-moto moves the aliases as it does"
)

say "make help lists the targets"
make -s help >"$WORK/help"
targets=$(awk '{print $2}' "$WORK/help")
[ -n "$targets" ] || { say "make help listed nothing"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
export LOCAL_GATEWAY_PORT=$PORT

say "make dev on port $PORT (builds the release binaries the first time)"
setsid make -s dev >"$WORK/dev.log" 2>&1 &
DEV_PID=$!
own_session "$DEV_PID"
for _ in $(seq 1 1800); do
  grep -q "^ready: http://127.0.0.1:$PORT" "$WORK/dev.log" && break
  kill -0 "$DEV_PID" 2>/dev/null || { cat "$WORK/dev.log" >&2; say "make dev exited before ready"; exit 1; }
  sleep 0.5
done
grep -q "^ready: " "$WORK/dev.log" || { tail -50 "$WORK/dev.log" >&2; say "make dev never printed ready"; exit 1; }
say "make dev is ready"

ran=()
for t in $targets; do
  case "$t" in
    help) ran+=("$t") ;;
    build)
      if [ -n "${READMECHECK_SKIP_BUILD:-}" ]; then say "skipping make build (READMECHECK_SKIP_BUILD)"; continue; fi
      say "make build (cargo lambda build --release for aarch64-unknown-linux-musl: the zips terraform deploys; minutes, unless make test built them beside Terraform just before)"
      make -s build >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
      for f in inventory billing-api billing-consumer setup; do
        [ -s "target/lambda/$f/bootstrap.zip" ] || { say "make build made no target/lambda/$f/bootstrap.zip"; exit 1; }
      done
      ran+=("$t") ;;
    services|migrate|tools)
      say "make $t"; make -s "$t" >/dev/null; ran+=("$t") ;;
    token)
      tok=$(make -s token); adm=$(make -s token USER=admin)
      [[ "$tok" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || { say "make token printed more than a token: $tok"; exit 1; }
      [[ "$adm" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || { say "make token USER=admin printed more than a token"; exit 1; }
      [ "$tok" != "$adm" ] || { say "user and admin got the same token"; exit 1; }
      ran+=("$t") ;;
    machine-token)
      rdr=$(make -s machine-token SCOPES=movies.read)
      [[ "$rdr" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || { say "make machine-token printed more than a token: $rdr"; exit 1; }
      if make -s machine-token SCOPES=no.such.scope >/dev/null 2>&1; then say "make machine-token accepted a scope the client is not allowed"; exit 1; fi
      ran+=("$t") ;;
    verify)
      say "make verify LOCAL=1: the deployed stack's self-check, against this make dev"
      LOCAL_GATEWAY_PORT=$PORT make -s verify LOCAL=1 || { say "make verify failed against make dev (above)"; exit 1; }
      say "make verify with billing paused: it must fail, naming the mapping and the order, with their causes"
      make -s billing-pause
      if VERIFY_ORDER_WAIT_SECS=5 make -s verify LOCAL=1 >"$WORK/verify-paused.log" 2>&1; then
        cat "$WORK/verify-paused.log" >&2; say "make verify passed with billing paused"; exit 1
      fi
      make -s billing-resume
      for want in "FAIL  order stored" "FAIL  event source mapping" "event source mapping: likely cause: the mapping is off"; do
        grep -qF "$want" "$WORK/verify-paused.log" || { cat "$WORK/verify-paused.log" >&2; say "make verify did not say: $want"; exit 1; }
      done
      ran+=("$t") ;;
    dev|billing-pause|billing-resume) ran+=("$t") ;;  # dev is running; pause/resume run in the README block below
    load) ran+=("$t") ;;  # scripts/dashboard-check.sh runs it below, before opening the dashboard
    *)
      if [ -n "${SKIP[$t]+x}" ]; then say "not run here: make $t (${SKIP[$t]})"
      else say "make $t is neither run by this check nor listed in SKIP: add it to one of them"; exit 1; fi ;;
  esac
done

say "shell blocks marked <!-- readme-check --> in README.md and docs/*.md"
python3 - "$PORT" "$WORK" <<'PY'
import re, sys, pathlib
port, work = sys.argv[1], pathlib.Path(sys.argv[2])
pages = [pathlib.Path("README.md")] + sorted(pathlib.Path("docs").glob("*.md"))
n = 0
for page in pages:
    blocks = re.findall(r"<!-- readme-check -->\s*```(?:sh|bash)\n(.*?)```", page.read_text(), re.S)
    if page.name == "README.md" and not blocks:
        sys.exit("no <!-- readme-check --> block in README.md")
    for b in blocks:
        name = f"block{n:02d}-{page.stem}.sh"
        (work / name).write_text(b.replace("127.0.0.1:3000", f"127.0.0.1:{port}"))
        n += 1
print(n)
PY
for block in "$WORK"/block*.sh; do
  say "running $(basename "$block"): $(grep -c 'curl ' "$block") curl lines"
  if ! bash -euo pipefail "$block" >"$block.out" 2>&1; then
    cat "$block.out" >&2; say "a documented command failed (above): $(basename "$block")"; exit 1
  fi
done

say "the HTTP contract on the same make dev: newman (postman/) and schemathesis (openapi.yaml)"
contract_started=$SECONDS
scripts/contract-check.sh "http://127.0.0.1:$PORT"
say "contract check took $((SECONDS - contract_started)) s"

say "every listener of the stack on loopback, and closed to web pages (scripts/listeners-check.sh)"
scripts/listeners-check.sh "$PORT" "$DEV_PID"

say "the dashboard: make load, then /_local/dashboard in headless Chromium (screenshot docs/dashboard.png)"
scripts/dashboard-check.sh "http://127.0.0.1:$PORT"

say "the web client in headless Chromium: sign-in, the catalogue, an order queued then stored, a viewer, an admin (screenshot docs/web.png)"
scripts/web-check.sh "http://127.0.0.1:$PORT"

say "cargo lambda watch serves the functions and cargo lambda invoke -F events/... reaches them (docs/local-development.md)"
WATCH_PORT=$(free_port)
(
  set -a; source .local/env; set +a
  export DATABASE_HOST=127.0.0.1 DATABASE_PORT="$CRUD_PG_PORT" DATABASE_NAME="$MOVIES_DB" \
         DATABASE_USER=movies_app DATABASE_PASSWORD=movies-local-password
  exec setsid cargo lambda watch --locked -A 127.0.0.1 -P "$WATCH_PORT" >"$WORK/watch.log" 2>&1
) &
WATCH_PID=$!
own_session "$WATCH_PID"
for f in events/inventory-health.json events/inventory-create.json events/inventory-list.json; do
  out=""
  for _ in $(seq 1 240); do
    out=$(cargo lambda invoke -A 127.0.0.1 -P "$WATCH_PORT" inventory -F "$f" 2>/dev/null) && break
    sleep 1
  done
  echo "$out" | grep -q '"statusCode":200' || { cat "$WORK/watch.log" >&2; say "cargo lambda invoke inventory -F $f did not answer 200: $out"; exit 1; }
done
# The watcher and the function builds it started (cargo lambda watch puts them in process
# groups of their own, but they stay in its session).
stop_session "$WATCH_PID"
WATCH_PID=

say "Ctrl-C stops make dev and its function processes"
kill -INT -- "-$DEV_PID" 2>/dev/null || kill -INT "$DEV_PID"
for _ in $(seq 1 40); do kill -0 "$DEV_PID" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$DEV_PID" 2>/dev/null; then say "make dev did not stop on SIGINT"; exit 1; fi
# Every process make dev started (gateway, function instances, builds) was in its session.
survivors=$(session "$DEV_PID")
if [ -n "$survivors" ]; then
  ps -o pid,args -p "$(echo $survivors | tr ' ' ,)" >&2
  say "processes of make dev survived Ctrl-C"; exit 1
fi
DEV_PID=
echo "readme-check: ${#ran[@]} targets run, README blocks ran clean"
