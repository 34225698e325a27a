#!/usr/bin/env bash
# The local stack: a throwaway PostgreSQL cluster, PgBouncer in transaction mode in front of it,
# and moto's server (SQS, EventBridge Scheduler, Secrets Manager).
#
#   scripts/stack.sh up     start them (idempotent), create the queues, run the migrations,
#                           and write .local/env (source it to talk to the stack)
#   scripts/stack.sh down   stop them
#   scripts/stack.sh reset  clear moto's state (queues and messages), then create the queues again
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
ENV_FILE="$STATE_DIR/env"

# initdb refuses to run as root: when we are root the cluster belongs to `postgres`.
as_pg() {
  # Under the clock check's libfaketime, root's processes share a semaphore `postgres` may not
  # open; its own processes need none (the offset is relative), so it is not passed on.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env -u FAKETIME_SHARED "$@"; else "$@"; fi
}

pg_dir() {
  # Outside the checkout: `sam build` hashes the whole workspace (CodeUri ./) and cannot read
  # a socket, and `postgres` (initdb refuses root) may not be able to reach the checkout.
  echo "${LOCAL_PG_DIR:-/tmp/tuturuuu-jobs-pg-$(printf '%s' "$REPO_ROOT" | cksum | cut -d' ' -f1)}"
}

pg_up() {
  [ -n "$PG_BIN" ] || die "PostgreSQL is not installed: run scripts/install.sh"
  local dir; dir="$(pg_dir)"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $dir/data"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    return 0
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  # A disposable development cluster: durability is traded for speed.
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start -o \
    "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
}

pg_down() {
  local dir; dir="$(pg_dir)"
  if [ -f "$dir/data/PG_VERSION" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

# PgBouncer (Debian's 1.18) in transaction mode, stricter than Supabase's pooler on purpose:
# after every transaction it runs DISCARD ALL, so a statement prepared in one transaction and
# used in another, a temporary table or a SET outliving its transaction, or a statement sent
# outside a transaction in two round trips fails at once instead of now and then (design §14).
pooler_up() {
  local dir bin; dir="$(pg_dir)"
  bin="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
  [ -x "$bin" ] || die "pgbouncer is not installed: run scripts/install.sh"
  if [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then
    return 0
  fi
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $POOLER_PORT
unix_socket_dir =
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
auth_type = trust
auth_file = $dir/pgbouncer-users.txt
pool_mode = transaction
server_reset_query = DISCARD ALL
server_reset_query_always = 1
max_client_conn = 2000
default_pool_size = 20
max_db_connections = 40
server_idle_timeout = 10
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
EOF
  echo '"postgres" ""' >"$dir/pgbouncer-users.txt"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pgbouncer.ini" "$dir/pgbouncer-users.txt"
  log "starting PgBouncer (transaction mode) on 127.0.0.1:$POOLER_PORT"
  as_pg "$bin" -d -q "$dir/pgbouncer.ini" || { tail -n 20 "$dir/pgbouncer.log" >&2; die "PgBouncer did not start"; }
  for _ in $(seq 1 50); do
    psql "$DATABASE_POOLER_URL" -tAc "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -n 20 "$dir/pgbouncer.log" >&2
  die "PgBouncer does not answer on $POOLER_PORT"
}

pooler_down() {
  local dir; dir="$(pg_dir)"
  if [ -f "$dir/pgbouncer.pid" ]; then
    kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
    rm -f "$dir/pgbouncer.pid"
  fi
}

# Supabase's API roles, so grants and row-level security can be checked as production has them.
create_roles() {
  psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qc "
    DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
    END \$\$" >/dev/null
}

# A cheap request (moto answers GET / as an empty S3 bucket list); not /moto-api/data.json,
# which serialises all of moto's state and takes minutes after a large benchmark.
moto_ready() {
  python3 - "$AWS_ENDPOINT_URL" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/", timeout=2).read()
PY
}

moto_up() {
  moto_ready && return 0
  # Ours but not answering (e.g. still busy after a huge benchmark): start a fresh one.
  moto_down
  log "starting moto's server on 127.0.0.1:$MOTO_PORT"
  nohup python3 "$REPO_ROOT/scripts/moto_server.py" 127.0.0.1 "$MOTO_PORT" >"$STATE_DIR/moto.log" 2>&1 &
  echo $! >"$STATE_DIR/moto.pid"
  for _ in $(seq 1 100); do
    moto_ready && return 0
    sleep 0.1
  done
  tail -n 20 "$STATE_DIR/moto.log" >&2
  die "moto's server did not start"
}

moto_down() {
  if [ -f "$STATE_DIR/moto.pid" ]; then
    kill "$(cat "$STATE_DIR/moto.pid")" 2>/dev/null || true
    rm -f "$STATE_DIR/moto.pid"
  fi
}

create_database() {
  local admin="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  if [ "$(psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
    psql "$admin" -qc "CREATE DATABASE $PG_DB" >/dev/null
  fi
}

write_env() {
  {
    echo "# Written by scripts/stack.sh: source it to reach the local stack."
    echo "export AWS_REGION=$AWS_REGION"
    echo "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
    echo "export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
    echo "export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
    echo "export DATABASE_URL=$DATABASE_URL"
    echo "export DATABASE_POOLER_URL=$DATABASE_POOLER_URL"
    python3 "$REPO_ROOT/scripts/queues.py" "$REPO_ROOT/template.yaml"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

run_migrate() {
  # LOCAL_JOBS_BIN: an already built `jobs` (the clock check keeps cargo off its shifted clock).
  if [ -n "${LOCAL_JOBS_BIN:-}" ]; then
    "$LOCAL_JOBS_BIN" migrate
  else
    (cd "$REPO_ROOT" && cargo run -q -p jobs-cli --bin jobs -- migrate)
  fi
}

migrate() {
  log "applying migrations"
  local out
  if out="$(run_migrate 2>&1)"; then
    [ -z "$out" ] || echo "$out"
    return 0
  fi
  # The mirror of Tuturuuu's schema (the first migration) is rebuilt in place when the facts
  # change; a throwaway database built from an older one is simply built again.
  if grep -q "previously applied but has been modified" <<<"$out"; then
    log "the local database predates a migration's current text: recreating $PG_DB"
    psql "postgres://postgres@127.0.0.1:$PG_PORT/postgres" -qc "DROP DATABASE $PG_DB WITH (FORCE)" >/dev/null
    create_database
    run_migrate
    return
  fi
  echo "$out" >&2
  die "migrations failed"
}

mkdir -p "$STATE_DIR"
case "${1:-up}" in
  up)
    pg_up
    pooler_up
    moto_up
    create_roles
    create_database
    write_env
    migrate
    log "local stack is up: source $ENV_FILE"
    ;;
  down)
    moto_down
    pooler_down
    pg_down
    ;;
  drop-test-databases)
    # Test databases sqlx could not drop (the pooler held connections to them).
    admin="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    for db in $(psql "$admin" -tAc "SELECT datname FROM pg_database WHERE datname LIKE '\_sqlx\_test\_%'"); do
      psql "$admin" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
    done
    psql "$DATABASE_URL" -qc "DELETE FROM _sqlx_test.databases" >/dev/null 2>&1 || true
    ;;
  reset)
    moto_up
    python3 -c "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/moto-api/reset', method='POST')).read()" "$AWS_ENDPOINT_URL"
    write_env
    ;;
  *)
    die "usage: scripts/stack.sh up|down|reset|drop-test-databases"
    ;;
esac
