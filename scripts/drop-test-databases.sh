#!/usr/bin/env bash
# Drops the databases of test runs that have ended. Tests create one database each, named
# t_<pid>_<kind>_<uuid> after the test process that owns it (tests/support/lib.rs): one is
# dropped only when that process no longer exists, so a run going on beside this one (another
# `make test` or `cargo test` on the same cluster) keeps its databases. Names of the older form
# t_<kind>_<uuid> carry no owner: they are dropped only when no session is connected to them.
# Safe to run twice; prints what it dropped.
set -euo pipefail
export PGPASSWORD="$CRUD_PG_PASSWORD"
sql() { psql -qAt -h "$CRUD_PG_HOST" -p "$CRUD_PG_PORT" -U "$CRUD_PG_USER" -d postgres -c "$1"; }
dropped=0 kept=0
while read -r db; do
  [ -n "$db" ] || continue
  if [[ "$db" =~ ^t_([0-9]+)_ ]]; then
    if kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || [ -d "/proc/${BASH_REMATCH[1]}" ]; then
      kept=$((kept + 1)); continue   # its test process is still running
    fi
    sql "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  else
    # Without FORCE, PostgreSQL refuses to drop a database someone is connected to.
    sql "DROP DATABASE IF EXISTS \"$db\"" 2>/dev/null || { kept=$((kept + 1)); continue; }
  fi
  dropped=$((dropped + 1))
done < <(sql "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'")
echo "test databases: dropped $dropped of ended runs, kept $kept of running ones" >&2
