#!/usr/bin/env bash
# `make dev`: the whole platform on loopback, in the foreground.
#
#   1. PostgreSQL, RabbitMQ and moto (scripts/services.sh: started if absent, reused if running)
#   2. release builds of the three functions, setup, the local gateway and `localaws`, in one
#      cargo invocation, so the dependency tree is compiled once
#   3. migrations and the least-privilege database roles (target/release/setup local)
#      (WATCH=1: debug builds, rebuilt by the gateway on save)
#   4. local AWS resources in moto (`localaws setup`): Cognito pool, user and machine clients,
#      users, billing dead-letter queue
#   5. the gateway on http://127.0.0.1:${LOCAL_GATEWAY_PORT:-3000}: API Gateway + Lambda + the
#      Amazon MQ event source mapping (local/gateway.yaml)
#
# Ctrl-C (SIGINT) or SIGTERM stops the gateway and every function instance it started. The
# services stay up for the next run (`make services-down` stops them); data stays in .local/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${LOCAL_GATEWAY_PORT:-3000}"
URL="http://127.0.0.1:$PORT"
say() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }
elapsed() { echo "$(( $(date +%s) - START ))s"; }
START=$(date +%s)

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  if curl -fsS "$URL/_local/health" >/dev/null 2>&1; then
    say "a local gateway is already running on $URL (another make dev?): use it, or stop it first"
  else
    say "port $PORT is taken by another program: free it or run LOCAL_GATEWAY_PORT=<port> make dev"
  fi
  exit 1
fi

say "services: PostgreSQL, RabbitMQ, moto"
scripts/services.sh up
set -a
# shellcheck disable=SC1091
source .local/env
set +a

case "${WATCH:-0}" in
  1 | true | yes) WATCH=1 ;;
  *) WATCH=0 ;;
esac
if [ "$WATCH" = 1 ]; then
  # The gateway builds the functions the same way (one `cargo build -p <function>...`, only the
  # functions selected, as make build does) at start and after each save: build them now, so
  # the first request finds them built.
  say "building the functions (debug, rebuilt on save) and the gateway (release)"
  cargo build --locked -q -p inventory -p billing-api -p billing-consumer
  # setup comes with the release packages (the Makefile's RELEASE_PACKAGES), built once.
  cargo build --locked --release -p local-gateway -p setup
  MODE="watch: functions from debug builds, rebuilt by the gateway on save; a one-line change is live in seconds (docs/local-development.md)"
else
  say "building the functions and the gateway (release, like cargo lambda build; the first build takes minutes)"
  make --no-print-directory release-bins # the Makefile names the packages once
  MODE="release: built bootstraps; after a change, rebuild (cargo build --release -p <function>) or make dev WATCH=1"
fi
say "building the web client (make web: web/dist)"
make --no-print-directory web >&2
say "built after $(elapsed)"

say "migrations and database roles (target/release/setup local)"
target/release/setup local >&2

say "local AWS in moto (target/release/localaws setup): Cognito user pool, users user/admin, machine client, billing dead-letter queue"
target/release/localaws setup
set -a
# shellcheck disable=SC1091
source .local/cognito.env
# shellcheck disable=SC1091
source .local/sqs.env
set +a

GATEWAY_PID=
stop() {
  trap - INT TERM
  if [ -n "$GATEWAY_PID" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    say "stopping the gateway and its function instances (services stay up; data stays in .local/)"
    kill -TERM "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  exit 0
}
trap stop INT TERM

say "starting the local gateway on $URL"
FUNCTIONS_WATCH=$([ "$WATCH" = 1 ] && echo true || echo false) WATCH_WORKSPACE="$ROOT" \
  FUNCTIONS_DIR="$ROOT/target/release" LOCAL_GATEWAY_PORT="$PORT" OPENAPI="$ROOT/openapi.yaml" \
  target/release/local-gateway local/gateway.yaml &
GATEWAY_PID=$!

# Ready means a request went all the way through: gateway, inventory's cold start, PostgreSQL.
status=000
for _ in $(seq 1 300); do
  kill -0 "$GATEWAY_PID" 2>/dev/null || { say "the gateway exited; see the messages above"; exit 1; }
  status=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health" 2>/dev/null || true)
  [ "$status" = 200 ] && break
  sleep 0.2
done
if [ "$status" != 200 ]; then
  say "GET $URL/health answers $status, not 200: the platform is up but not healthy (see the logs above)"
else
  cat >&2 <<EOF

  ready in $(elapsed): $URL   (Ctrl-C stops it)
  mode:         $MODE
  web client:   $URL/   (sign in as user, admin or viewer: passwords in .local/cognito.env)
  dashboard:    $URL/_local/dashboard   (CloudWatch widgets and alarms, live; make load feeds it)

  a token:      TOKEN=\$(make -s token)              # make -s token USER=admin for the admin
  a service:    SVC=\$(make -s machine-token SCOPES=movies.read)   # client credentials, scopes you name
  try:          curl -s -H "Authorization: Bearer \$TOKEN" $URL/api/movies
  add a movie:  curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
                     -d '{"title":"Alien","description":"1979"}' $URL/api/movies
  billing:      make billing-pause / make billing-resume   (the event source mapping)
EOF
  echo "ready: $URL ($([ "$WATCH" = 1 ] && echo watch || echo release) mode)"
fi
wait "$GATEWAY_PID"
