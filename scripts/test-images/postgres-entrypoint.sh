#!/bin/bash
# Test-image entry point with the official postgres image's contract: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB and PGDATA; the cluster is created on first start; the server runs
# as the postgres user, never as root. Secrets reach initdb and psql through fds and stdin, never argv.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" >/dev/null
  # published ports arrive from the bridge gateway, not 127.0.0.1
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$db" != 'postgres' ]; then
    # the temporary server listens on the socket only, so a TCP readiness check cannot pass early
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    printf 'CREATE DATABASE "%s";\n' "$db" | psql -q -v ON_ERROR_STOP=1 --username "$user" --dbname postgres
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
fi

exec "$@"
