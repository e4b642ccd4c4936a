#!/usr/bin/env bash
# Make sure the services the tests need are up: PostgreSQL (127.0.0.1:5432, database "test")
# and Redis (127.0.0.1:6379). Starts whichever is down; fails loudly if one does not come up.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_DB=test
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
WAIT_SECONDS=30

die() { echo "ensure-services: ERROR: $*" >&2; exit 1; }

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

# wait_for NAME CHECK_FUNCTION
wait_for() {
    local name=$1 check=$2 i
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        if "$check"; then
            return 0
        fi
        sleep 0.5
    done
    die "$name did not answer within ${WAIT_SECONDS}s"
}

command -v pg_isready >/dev/null 2>&1 || die "pg_isready not found (apt-get install postgresql)"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found (apt-get install redis-server)"

# --- PostgreSQL ---
if pg_up; then
    echo "ensure-services: postgresql up"
else
    [ -d /etc/postgresql ] || die "PostgreSQL is down and no cluster under /etc/postgresql"
    pg_version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    [ -n "$pg_version" ] || die "PostgreSQL is down and /etc/postgresql is empty"
    echo "ensure-services: starting postgresql $pg_version/main"
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start \
        || die "pg_ctlcluster $pg_version main start failed (see /var/log/postgresql/)"
    wait_for postgresql pg_up
    echo "ensure-services: postgresql up"
fi

# --- Redis ---
if redis_up; then
    echo "ensure-services: redis up"
else
    echo "ensure-services: starting redis"
    mkdir -p /var/log/redis /var/lib/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log \
        || die "redis-server failed to start (see /var/log/redis/ci.log)"
    wait_for redis redis_up
    echo "ensure-services: redis up"
fi

# --- database "test" (trust auth; as user postgres, else root, else via the postgres OS user) ---
has_db() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$1" -lqt 2>/dev/null | cut -d'|' -f1 | grep -qw "$PG_DB"; }
db_ok=
for pg_user in postgres root; do
    if ! psql -h "$PG_HOST" -p "$PG_PORT" -U "$pg_user" -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
        continue
    fi
    if has_db "$pg_user"; then
        echo "ensure-services: database $PG_DB exists"
    else
        echo "ensure-services: creating database $PG_DB (as $pg_user)"
        createdb -h "$PG_HOST" -p "$PG_PORT" -U "$pg_user" "$PG_DB" \
            || has_db "$pg_user" || die "createdb $PG_DB failed"
    fi
    db_ok=1
    break
done
if [ -z "$db_ok" ] && [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null 2>&1; then
    # no trust auth over TCP: fall back to the local socket as the postgres OS user
    if runuser -u postgres -- psql -p "$PG_PORT" -lqt 2>/dev/null | cut -d'|' -f1 | grep -qw "$PG_DB"; then
        echo "ensure-services: database $PG_DB exists"
        db_ok=1
    elif runuser -u postgres -- createdb -p "$PG_PORT" "$PG_DB"; then
        echo "ensure-services: created database $PG_DB (as OS user postgres)"
        db_ok=1
    fi
fi
[ -n "$db_ok" ] || die "cannot connect to PostgreSQL at $PG_HOST:$PG_PORT as postgres or root to ensure database $PG_DB"
