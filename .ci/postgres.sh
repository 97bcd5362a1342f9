#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the tests: `source .ci/postgres.sh` sets
# RUNSTRONG_TEST_POSTGRES_URL and stops the server (and removes its files) when the shell exits.
# The server binaries refuse to run as root, so they run as the `postgres` user.
set -euo pipefail

if ! command -v initdb >/dev/null || ! command -v pg_ctl >/dev/null; then
    echo "PostgreSQL server binaries (initdb, pg_ctl) not found; PostgreSQL tests will be skipped." >&2
    return 0 2>/dev/null || exit 0
fi
if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
fi

PG_DIR="$(mktemp -d /tmp/runstrong-pg.XXXXXX)"
chown postgres: "$PG_DIR"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
as_postgres() { su postgres -s /bin/sh -c "$*"; }

as_postgres "initdb -D '$PG_DIR/data' -U postgres -A trust --no-sync" >"$PG_DIR/initdb.log"
as_postgres "pg_ctl -D '$PG_DIR/data' -l '$PG_DIR/server.log' -w -t 60 \
    -o \"-c listen_addresses=127.0.0.1 -p $PG_PORT -k '$PG_DIR' -c fsync=off -c full_page_writes=off\" start" >/dev/null

stop_postgres() {
    su postgres -s /bin/sh -c "pg_ctl -D '$PG_DIR/data' -m immediate -w stop" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
trap stop_postgres EXIT

export RUNSTRONG_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
echo "PostgreSQL for the tests: $RUNSTRONG_TEST_POSTGRES_URL" >&2
