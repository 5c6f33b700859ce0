#!/usr/bin/env bash
# The local stack is closed to the network and to web pages: run against a running `make dev`.
#
#   1. Every TCP socket that its processes listen on (the gateway and the function instances of
#      the `make dev` session, PostgreSQL, RabbitMQ and its epmd, moto) is bound to loopback
#      (`ss -ltnp`).
#   2. Each HTTP listener refuses a DNS-rebinding request (a foreign `Host`) and a cross-origin
#      one (a foreign `Origin`): the gateway (HTTP API, Lambda API, admin API), every function
#      instance's runtime API, and moto, with a 403. The RabbitMQ management API, which cannot
#      be configured so, has no default user: `guest` is refused and its answers carry no CORS
#      header.
#
#   scripts/listeners-check.sh <gateway port> <session id of make dev>
#
# Read-only: it sends each listener a few requests and changes nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1m[listeners]\033[0m %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }
PORT="${1:?usage: scripts/listeners-check.sh <gateway port> <make dev session id>}"
SID="${2:?usage: scripts/listeners-check.sh <gateway port> <make dev session id>}"
command -v ss >/dev/null || { say "installing iproute2 (ss)"; apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; }
set -a; source .local/env; set +a

# The processes: the make dev session's, and the services' (pid files, and epmd by its port).
pids=$(ps -e -o pid=,sid= | awk -v sid="$SID" '$2 == sid {print $1}')
pg_pid=$(head -1 "$(dirname "$CRUD_PG_CA_FILE")/data/postmaster.pid" 2>/dev/null || true)
[ -n "$pg_pid" ] || pg_pid=$(ss -ltnpH "sport = :$CRUD_PG_PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
rabbit_pid=$(ss -ltnpH "sport = :$CRUD_AMQP_PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
moto_port=${AWS_ENDPOINT_URL##*:}
moto_pid=$(ss -ltnpH "sport = :$moto_port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
epmd_pids=$(ss -ltnpH "sport = :${CRUD_EPMD_PORT:-4370}" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
all="$pids $pg_pid $rabbit_pid $moto_pid $epmd_pids"
[ -n "$pg_pid" ] && [ -n "$rabbit_pid" ] && [ -n "$moto_pid" ] || fail "a service is not running (pg $pg_pid, rabbitmq $rabbit_pid, moto $moto_pid)"

# 1. Loopback only.
sockets=$(ss -ltnpH)
checked=0
for pid in $all; do
  while read -r local_addr; do
    [ -n "$local_addr" ] || continue
    checked=$((checked + 1))
    case "$local_addr" in
      127.*:* | "[::1]:"*) ;;
      *) fail "pid $pid ($(ps -o comm= -p "$pid")) listens on $local_addr: not loopback" ;;
    esac
  done < <(grep "pid=$pid," <<<"$sockets" | awk '{print $4}')
done
[ "$checked" -ge 8 ] || fail "found only $checked listening sockets: the stack is not all up?"
say "$checked listening sockets of $(wc -w <<<"$all") processes: every one on loopback"

# 2. Each HTTP listener refuses a rebinding Host and a foreign Origin.
status() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }
refuses() {
  local what=$1 url=$2 port; port=$(sed -E 's#http://[^:]+:([0-9]+).*#\1#' <<<"$url")
  local host; host=$(status -H "Host: rebind.example:$port" "$url")
  local origin; origin=$(status -H "Origin: http://evil.example" "$url")
  [ "$host" = 403 ] || fail "$what ($url) answered $host to a rebinding Host, not 403"
  [ "$origin" = 403 ] || fail "$what ($url) answered $origin to a foreign Origin, not 403"
}
refuses "the gateway's HTTP API" "http://127.0.0.1:$PORT/health"
refuses "the gateway's Lambda API" "http://127.0.0.1:$PORT/2015-03-31/event-source-mappings/"
refuses "the gateway's admin API" "http://127.0.0.1:$PORT/_local/health"
refuses "moto" "$AWS_ENDPOINT_URL/moto-api/"
gateway_pid=$(ss -ltnpH "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
runtime_apis=0
for addr in $(grep "pid=$gateway_pid," <<<"$sockets" | awk '{print $4}'); do
  p=${addr##*:}
  [ "$p" = "$PORT" ] && continue
  refuses "a function instance's runtime API" "http://127.0.0.1:$p/2018-06-01/runtime/invocation/next"
  runtime_apis=$((runtime_apis + 1))
done
[ "$runtime_apis" -ge 1 ] || fail "no function instance's runtime API found (make dev answered a request before this check)"
# The management API: no default user, no CORS.
guest=$(status -u guest:guest "$CRUD_RABBIT_MGMT_URL/api/whoami")
[ "$guest" = 401 ] || fail "the RabbitMQ management API answered $guest to guest/guest, not 401"
if curl -s -m 5 -D - -o /dev/null -H "Origin: http://evil.example" "$CRUD_RABBIT_MGMT_URL/api/overview" | grep -qi '^access-control-allow-origin'; then
  fail "the RabbitMQ management API answers a foreign Origin with a CORS header"
fi
say "the gateway, $runtime_apis runtime APIs and moto refuse a rebinding Host and a foreign Origin (403); RabbitMQ's management API has no guest and no CORS"
