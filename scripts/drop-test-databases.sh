#!/usr/bin/env bash
# Tests create one database each (t_<kind>_<uuid>); drop what earlier runs left behind.
set -euo pipefail
export PGPASSWORD="$CRUD_PG_PASSWORD"
psql -qAt -h "$CRUD_PG_HOST" -p "$CRUD_PG_PORT" -U "$CRUD_PG_USER" -d postgres \
  -c "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'" |
  while read -r db; do
    psql -q -h "$CRUD_PG_HOST" -p "$CRUD_PG_PORT" -U "$CRUD_PG_USER" -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  done
