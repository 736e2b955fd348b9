#!/bin/sh
# PostgreSQL from Debian's package, started the way the public postgres image starts: a cluster
# made on first start in /var/lib/postgresql/data, with the user and database of POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB; then the server in the foreground on PGPORT (127.0.0.1).
set -eu
data=/var/lib/postgresql/data
sockets=/var/run/postgresql
port=${PGPORT:-5432}
mkdir -p "$data" "$sockets"
chown postgres:postgres "$data" "$sockets"
chmod 0700 "$data"
as_postgres() { runuser -u postgres -- "$@"; }
if [ ! -s "$data/PG_VERSION" ]; then
  as_postgres initdb -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 >/dev/null
  as_postgres pg_ctl -D "$data" -o "-c listen_addresses='' -k $sockets -p $port" -w start >/dev/null
  as_postgres psql -q -v ON_ERROR_STOP=1 -h "$sockets" -p "$port" -U postgres \
    -v user="${POSTGRES_USER:-postgres}" -v password="${POSTGRES_PASSWORD:?}" \
    -v db="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" <<'SQL'
CREATE ROLE :"user" LOGIN SUPERUSER PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
  as_postgres pg_ctl -D "$data" -m fast -w stop >/dev/null
fi
exec runuser -u postgres -- postgres -D "$data" -p "$port" -k "$sockets" \
  -c listen_addresses=127.0.0.1
