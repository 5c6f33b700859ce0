#!/usr/bin/env bash
# The real parts the functions run against locally and in tests: a private PostgreSQL cluster,
# a private RabbitMQ node and moto (Cognito, Secrets Manager, SQS), all on loopback, with their
# data under .local/ (gitignored). Safe to run twice: what is running is reused.
#
#   scripts/services.sh up      install what is missing, start what is not running, write .local/env
#   scripts/services.sh down    stop what this script started (data stays on disk)
#   scripts/services.sh status
#
# Ports (loopback only): CRUD_PG_PORT (55432), CRUD_AMQP_PORT (5673), CRUD_RABBIT_MGMT_PORT
# (15673, the management API), CRUD_RABBIT_DIST_PORT (25673), CRUD_EPMD_PORT (4370),
# CRUD_MOTO_PORT (4566).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.local"
PG_PORT="${CRUD_PG_PORT:-55432}"
PG_USER="crud"
PG_PASSWORD="${CRUD_PG_PASSWORD:-local-only-password}"
AMQP_PORT="${CRUD_AMQP_PORT:-5673}"
RABBIT_DIST_PORT="${CRUD_RABBIT_DIST_PORT:-25673}"
EPMD_PORT="${CRUD_EPMD_PORT:-4370}"
# The RabbitMQ management HTTP API (setup creates the broker users through it, as on Amazon MQ).
MGMT_PORT="${CRUD_RABBIT_MGMT_PORT:-15673}"
MOTO_PORT="${CRUD_MOTO_PORT:-4566}"
RUN_AS="crudmaster"

# PostgreSQL refuses to run as root, so as root it runs as $RUN_AS (created here if absent), which
# must be able to reach its data directory: under .local/ when the checkout's path is traversable
# by other users, else (a checkout under /root, say) in a private directory under /var/lib named
# after the checkout.
PG_DIR="$STATE/pg"
if [ "$(id -u)" = 0 ]; then
  id "$RUN_AS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
  mkdir -p "$STATE"
  if ! runuser -u "$RUN_AS" -- test -x "$STATE" 2>/dev/null; then
    PG_DIR="/var/lib/crud-master/$(printf %s "$ROOT" | md5sum | cut -c1-12)/pg"
  fi
fi

say() { printf '\033[1m[services]\033[0m %s\n' "$*" >&2; }

as_service_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  say "installing $* from Debian (one-time)"
  [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
  # Debian starts a system-wide service on install; we run private nodes instead.
  local had_policy=0
  [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  [ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && { echo "$d"; return; }; done
  command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return; }
  return 1
}

postgres_up() {
  local bin; bin="$(pg_bin)" || { apt_install postgresql postgresql-contrib; bin="$(pg_bin)"; }
  command -v psql >/dev/null || apt_install postgresql-client
  local data="$PG_DIR/data"
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown -R "$RUN_AS" "$PG_DIR"
  if [ ! -s "$data/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in .local/pg (one-time)"
    printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
    [ "$(id -u)" = 0 ] && chown "$RUN_AS" "$PG_DIR/pwfile"
    as_service_user "$bin/initdb" -D "$data" -U "$PG_USER" --pwfile="$PG_DIR/pwfile" \
      --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$PG_DIR/pwfile"
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 300
fsync = on
shared_buffers = 256MB
log_min_messages = warning
CONF
  fi
  pg_tls "$data"
  if as_service_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    as_service_user "$bin/pg_ctl" -D "$data" reload >/dev/null
  else
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_service_user "$bin/pg_ctl" -D "$data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null
  fi
}

# TLS as RDS Proxy requires it: a private CA (.local/pg/ca.crt, what DATABASE_CA_FILE points
# at, like the RDS CA bundle) signs the server's certificate for 127.0.0.1 and localhost.
# Plain connections stay allowed, as the local functions use them.
pg_tls() {
  local data="$1"
  [ -f "$data/server.crt" ] && [ -f "$PG_DIR/ca.crt" ] && return
  command -v openssl >/dev/null || apt_install openssl
  say "creating a private CA and a server certificate for PostgreSQL TLS (one-time)"
  local tmp; tmp="$(mktemp -d)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=crud-master local CA" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$tmp/ext"
  openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext" -out "$tmp/server.crt" >/dev/null 2>&1
  install -m 600 "$tmp/server.key" "$data/server.key"
  install -m 644 "$tmp/server.crt" "$data/server.crt"
  install -m 644 "$tmp/ca.crt" "$PG_DIR/ca.crt"
  [ "$(id -u)" = 0 ] && chown "$RUN_AS" "$data/server.key" "$data/server.crt" "$PG_DIR/ca.crt"
  rm -rf "$tmp"
  grep -q "^ssl = on" "$data/postgresql.conf" || printf "ssl = on\n" >>"$data/postgresql.conf"
}

rabbit_env() {
  export HOME="$STATE/rabbitmq"
  export RABBITMQ_NODENAME="crud@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$AMQP_PORT"
  export RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT"
  export ERL_EPMD_PORT="$EPMD_PORT"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia"
  export RABBITMQ_LOG_BASE="$STATE/rabbitmq/log"
  export RABBITMQ_CONFIG_FILE="$STATE/rabbitmq/rabbitmq"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$STATE/rabbitmq/enabled_plugins"
  export RABBITMQ_PID_FILE="$STATE/rabbitmq/pid"
  # The Erlang distribution (node and CLI) on loopback too: by default it listens on every
  # interface, and anyone who reaches it with the cookie controls the node.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# The broker's administrator: no `guest` (its password is public, and a DNS-rebinding page could
# use it on the management API), but a user with a password made once for this checkout.
RABBIT_ADMIN_USER="crud_admin"
rabbit_admin_password() {
  local f="$STATE/rabbitmq/admin-password"
  # Hex: rabbitmqctl reads an argument that starts with "-" as an option, and one URL-safe
  # token in 64 does (a password file written so before is replaced).
  if [ ! -s "$f" ] || [ "$(head -c1 "$f")" = "-" ]; then
    mkdir -p "$STATE/rabbitmq"
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(24))' >"$f")
  fi
  cat "$f"
}

# Creates the administrator and deletes `guest` on a node that still has it. Safe to run twice.
rabbit_admin() {
  local pw users; pw="$(rabbit_admin_password)"
  users="$(rabbit_ctl -q list_users 2>/dev/null | awk '{print $1}')"
  if ! grep -qx "$RABBIT_ADMIN_USER" <<<"$users"; then
    say "creating the broker administrator $RABBIT_ADMIN_USER (password in .local/rabbitmq/admin-password)"
    rabbit_ctl -q add_user "$RABBIT_ADMIN_USER" "$pw" >/dev/null
  else
    # The node may have outlived the password file (or be another checkout's): this one's counts.
    rabbit_ctl -q change_password "$RABBIT_ADMIN_USER" "$pw" >/dev/null
  fi
  rabbit_ctl -q set_user_tags "$RABBIT_ADMIN_USER" administrator >/dev/null
  rabbit_ctl -q set_permissions -p / "$RABBIT_ADMIN_USER" '.*' '.*' '.*' >/dev/null
  if grep -qx guest <<<"$users"; then
    say "deleting the broker's default user guest"
    rabbit_ctl -q delete_user guest >/dev/null
  fi
}

# The distribution port of a node started before it was kept to loopback.
rabbit_dist_open_to_all() {
  command -v ss >/dev/null || return 1
  ss -ltnH "sport = :$RABBIT_DIST_PORT" 2>/dev/null | awk '{print $4}' | grep -qv '^127\.0\.0\.1:'
}

rabbit_ctl() { (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmqctl -n crud@localhost "$@"); }

rabbitmq_up() {
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || apt_install rabbitmq-server
  mkdir -p "$STATE/rabbitmq/log" "$STATE/rabbitmq/mnesia"
  [ -f "$STATE/rabbitmq/rabbitmq.conf" ] || (umask 077; cat >"$STATE/rabbitmq/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
default_user = $RABBIT_ADMIN_USER
default_pass = $(rabbit_admin_password)
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 200MB
log.console = false
log.file.level = warning
CONF
)
  # The management API on loopback (older nodes get it added; the plugin starts at boot).
  grep -q '^management.tcp.port' "$STATE/rabbitmq/rabbitmq.conf" || cat >>"$STATE/rabbitmq/rabbitmq.conf" <<CONF
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
CONF
  echo '[rabbitmq_management].' >"$STATE/rabbitmq/enabled_plugins"
  # The node's configuration is the authority once written (a later run may not export the port).
  MGMT_PORT="$(sed -n 's/^management.tcp.port = //p' "$STATE/rabbitmq/rabbitmq.conf")"
  if port_open "$AMQP_PORT" && rabbit_ctl -q status >/dev/null 2>&1; then
    if port_open "$MGMT_PORT" && ! rabbit_dist_open_to_all; then
      say "RabbitMQ already running on 127.0.0.1:$AMQP_PORT (management API on $MGMT_PORT)"
      rabbit_admin
      return
    fi
    say "restarting RabbitMQ to keep every listener on loopback (one-time)"
    rabbitmq_stop
    local j
    for j in $(seq 1 30); do port_open "$AMQP_PORT" || break; sleep 1; done
  fi
  say "starting RabbitMQ on 127.0.0.1:$AMQP_PORT (takes a few seconds)"
  (rabbit_env; setsid nohup /usr/lib/rabbitmq/bin/rabbitmq-server >"$STATE/rabbitmq/log/stdout.log" 2>&1 &)
  local i
  for i in $(seq 1 120); do
    if port_open "$AMQP_PORT" && rabbit_ctl -q await_startup >/dev/null 2>&1 && port_open "$MGMT_PORT"; then
      rabbit_admin
      return
    fi
    sleep 1
  done
  say "RabbitMQ did not start; see .local/rabbitmq/log"; tail -20 "$STATE/rabbitmq/log/"*.log >&2 || true
  return 1
}

rabbitmq_stop() {
  port_open "$AMQP_PORT" || return 0
  rabbit_ctl -q stop >/dev/null 2>&1 || true
  (rabbit_env; /usr/lib/erlang/bin/epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true)
}

moto_up() {
  if curl -fsS "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1; then
    # One this script started before moto had its guard answers a web page: restart it.
    if [ -f "$STATE/moto/pid" ] && curl -fsS -o /dev/null -H "Origin: http://guard.check" "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then
      say "restarting moto with its guard against web pages (one-time; tokens and pools are set up again)"
      kill "$(cat "$STATE/moto/pid")" 2>/dev/null || true
      local j
      for j in $(seq 1 40); do port_open "$MOTO_PORT" || break; sleep 0.25; done
    else
      say "moto already running on 127.0.0.1:$MOTO_PORT"; return
    fi
  fi
  # moto 5.2.1 exactly, as scripts/tf-moto.sh pins it (scripts/moto_server.py fills its read-back gaps).
  python3 -c 'import moto.server, flask, flask_cors, importlib.metadata as m, sys; sys.exit(m.version("moto") != "5.2.1")' 2>/dev/null || {
    say "installing moto[server] 5.2.1 from PyPI (one-time)"
    python3 -m pip install -q --disable-pip-version-check 'moto[server,cognitoidp]==5.2.1'
  }
  say "starting moto on 127.0.0.1:$MOTO_PORT"
  mkdir -p "$STATE/moto"
  # scripts/moto_server.py: moto, closed to web pages (MOTO_LOCAL_GUARD; see the script).
  MOTO_LOCAL_GUARD=1 setsid nohup python3 "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto/server.log" 2>&1 &
  echo $! >"$STATE/moto/pid"
  local i
  for i in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && return
    sleep 0.5
  done
  say "moto did not start; see .local/moto/server.log"; return 1
}

write_env() {
  cat >"$STATE/env" <<ENV
# written by scripts/services.sh; source it to reach the local services
export CRUD_PG_HOST=127.0.0.1
export CRUD_PG_PORT=$PG_PORT
export CRUD_PG_USER=$PG_USER
export CRUD_PG_PASSWORD=$PG_PASSWORD
export CRUD_PG_SOCKET_DIR=$PG_DIR
export CRUD_PG_CA_FILE=$PG_DIR/ca.crt
export AMQP_URL=amqp://$RABBIT_ADMIN_USER:$(rabbit_admin_password)@127.0.0.1:$AMQP_PORT/%2f
export CRUD_AMQP_PORT=$AMQP_PORT
export CRUD_RABBIT_MGMT_PORT=$MGMT_PORT
export CRUD_RABBIT_MGMT_URL=http://127.0.0.1:$MGMT_PORT
# AMQP_URL is the administrator (setup, tests). The functions and the event source mapping log in
# as the least-privilege users setup creates (target/release/setup local), as on AWS.
export CRUD_AMQP_ADMIN_USER=$RABBIT_ADMIN_USER
export CRUD_AMQP_ADMIN_PASSWORD=$(rabbit_admin_password)
export CRUD_AMQP_PUBLISHER_USER=billing_publisher
export CRUD_AMQP_PUBLISHER_PASSWORD=publisher-local-password
export CRUD_AMQP_CONSUMER_USER=billing_consumer
export CRUD_AMQP_CONSUMER_PASSWORD=consumer-local-password
export AMQP_PUBLISHER_URL=amqp://billing_publisher:publisher-local-password@127.0.0.1:$AMQP_PORT/%2f
export AMQP_CONSUMER_URL=amqp://billing_consumer:consumer-local-password@127.0.0.1:$AMQP_PORT/%2f
export CRUD_RABBITMQCTL="$ROOT/scripts/services.sh rabbitmqctl"
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
ENV
}

case "${1:-up}" in
  up)
    mkdir -p "$STATE"
    command -v curl >/dev/null || apt_install curl
    postgres_up
    rabbitmq_up
    moto_up
    write_env
    say "services up; environment in .local/env"
    ;;
  down)
    bin="$(pg_bin)" && as_service_user "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rabbitmq_stop
    [ -f "$STATE/moto/pid" ] && kill "$(cat "$STATE/moto/pid")" 2>/dev/null || true
    say "services stopped; data kept in .local/"
    ;;
  pg-stop) as_service_user "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null ;;
  pg-start) as_service_user "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null ;;
  rabbit-stop) rabbitmq_stop ;;
  rabbit-start) rabbitmq_up ;;
  rabbitmqctl) shift; rabbit_ctl "$@" ;;
  status)
    port_open "$PG_PORT" && echo "postgres: up ($PG_PORT)" || echo "postgres: down"
    port_open "$AMQP_PORT" && echo "rabbitmq: up ($AMQP_PORT)" || echo "rabbitmq: down"
    port_open "$MGMT_PORT" && echo "rabbitmq management API: up ($MGMT_PORT)" || echo "rabbitmq management API: down"
    port_open "$MOTO_PORT" && echo "moto: up ($MOTO_PORT)" || echo "moto: down"
    ;;
  *) echo "usage: $0 up|down|status|pg-stop|pg-start|rabbit-stop|rabbit-start|rabbitmqctl ARGS" >&2; exit 2 ;;
esac
