#!/usr/bin/env bash
# Persistent servers OUTSIDE Docker for the hybrid (external:) tests: a
# PostgreSQL on port 55432 and a Redis on port 56379, both on 127.0.0.1 and on
# the docker bridge's host address (so the environments' containers reach them
# through host-gateway), from Debian's packages. Idempotent; quick when up.
#
#   PostgreSQL  postgresql://eph_admin:eph-admin@127.0.0.1:55432/legacy   (CREATEDB)
#               postgresql://eph_plain:eph-plain@127.0.0.1:55432/legacy   (no CREATEDB)
#               database "legacy" (owner eph_admin) stands for the team's own data
#   Redis       redis://:eph-redis@127.0.0.1:56379/0   (16 logical databases)
#
# Test-only credentials of a throwaway local server; data in /var/lib/eph-servers.
set -euo pipefail

say() { printf 'setup.d/50-servers: %s\n' "$*" >&2; }

PG_PORT=55432
REDIS_PORT=56379
ROOT=/var/lib/eph-servers
PGDATA=$ROOT/pg
REDIS_DIR=$ROOT/redis
bridge=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1 || true)
listen="127.0.0.1${bridge:+,$bridge}"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  printf '%s' "$found"
}

need=()
[ -n "$(pg_bin)" ] || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian's ${need[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
  # the packages start their own servers on the default ports: not ours, leave them
fi
BIN=$(pg_bin)

# -- PostgreSQL -----------------------------------------------------------------------------
pg_up() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }
if ! pg_up; then
  mkdir -p "$ROOT"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    say "initdb $PGDATA"
    rm -rf "$PGDATA"
    install -d -o postgres -g postgres -m 700 "$PGDATA"
    pw=$(mktemp)
    printf 'eph-super\n' >"$pw"
    chown postgres "$pw"
    runuser -u postgres -- "$BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pw" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
    rm -f "$pw"
    cat >>"$PGDATA/pg_hba.conf" <<'EOF'
# containers of the environments, through the docker bridges
host all all 172.16.0.0/12 scram-sha-256
EOF
  fi
  say "starting PostgreSQL on $listen:$PG_PORT (log: $ROOT/run/pg.log)"
  install -d -o postgres -g postgres "$ROOT/run"
  runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDATA" -l "$ROOT/run/pg.log" -w -t 60 start \
    -o "-p $PG_PORT -c listen_addresses='$listen' -k $ROOT/run -c max_connections=200 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
fi
psql_super() { runuser -u postgres -- psql -X -q -h "$ROOT/run" -p "$PG_PORT" -U postgres "$@"; }
psql_super -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'EOF'
SELECT 'CREATE ROLE eph_admin LOGIN CREATEDB PASSWORD ''eph-admin'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eph_admin') \gexec
SELECT 'CREATE ROLE eph_plain LOGIN NOCREATEDB PASSWORD ''eph-plain'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eph_plain') \gexec
SELECT 'CREATE DATABASE legacy OWNER eph_admin'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'legacy') \gexec
GRANT CONNECT, CREATE ON DATABASE legacy TO eph_plain;
EOF
psql_super -d legacy -v ON_ERROR_STOP=1 >/dev/null <<'EOF'
SET client_min_messages = warning;
SET ROLE eph_admin;
CREATE TABLE IF NOT EXISTS public.accounts (id int PRIMARY KEY, owner text NOT NULL);
INSERT INTO public.accounts VALUES (1, 'the team''s own row') ON CONFLICT DO NOTHING;
EOF
say "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PG_PORT"

# -- Redis ----------------------------------------------------------------------------------
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" -a eph-redis --no-auth-warning ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  mkdir -p "$REDIS_DIR"
  say "starting Redis on ${listen//,/ }:$REDIS_PORT (log: $ROOT/redis.log)"
  # shellcheck disable=SC2086
  redis-server --port "$REDIS_PORT" --bind ${listen//,/ } --requirepass eph-redis \
    --databases 16 --save '' --appendonly no --dir "$REDIS_DIR" \
    --daemonize yes --logfile "$ROOT/redis.log" --pidfile "$ROOT/redis.pid"
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  redis_up || { say "Redis did not come up; see $ROOT/redis.log"; exit 1; }
fi
say "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) up on 127.0.0.1:$REDIS_PORT"
