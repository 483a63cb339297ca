#!/usr/bin/env bash
# Installs and runs a PostgreSQL 15 server (Debian's package) on loopback, for the
# side-by-side benchmark (`npm run bench:pg`). Durable like EntDB's embedded log:
# fsync=on, synchronous_commit=on.
#
#   tests/infra/postgres.sh install            # idempotent; apt-get install postgresql
#   tests/infra/postgres.sh start [--dir D]    # initdb if needed, start; prints the URL
#   tests/infra/postgres.sh stop [--dir D] [--clean]   # fast shutdown; --clean removes D
#   tests/infra/postgres.sh status [--dir D]   # exit 0 only if it runs; prints URL and pid
#   tests/infra/postgres.sh url [--dir D]      # prints the URL
#
# The cluster lives in the state dir (default .tmp/postgres in the repository): data/,
# server.log, cluster.env (port). It listens on 127.0.0.1 only, on a free port chosen
# at the first start (`--port P` to choose), with trust authentication for user
# postgres, database entdb_bench. initdb refuses to run as root: as root, the server
# runs as the `postgres` user (runuser) and the state dir is given to it.
#
# Environment: ENTDB_POSTGRES_DIR (state dir), ENTDB_POSTGRES_VERSION (default 15),
# ENTDB_POSTGRES_START_TIMEOUT (s, default 60), ENTDB_POSTGRES_STOP_TIMEOUT (s, default 30).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_VERSION=${ENTDB_POSTGRES_VERSION:-15}
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
START_TIMEOUT=${ENTDB_POSTGRES_START_TIMEOUT:-60}
STOP_TIMEOUT=${ENTDB_POSTGRES_STOP_TIMEOUT:-30}
DATABASE=entdb_bench

say() { echo "postgres.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# --- install -------------------------------------------------------------------------

installed() { [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/pgbench" ]; }

cmd_install() {
  if installed; then
    say "PostgreSQL $PG_VERSION already installed in $PG_BIN"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "PostgreSQL $PG_VERSION is not installed in $PG_BIN and installing needs root (apt-get install postgresql-$PG_VERSION)"
  command -v apt-get >/dev/null || die "apt-get not found: install PostgreSQL $PG_VERSION (initdb, pg_ctl, pgbench in $PG_BIN) by hand"
  say "installing PostgreSQL $PG_VERSION (apt-get)"
  # The package's own cluster (postgresql-common) is not used: no service is started.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION" >&2 ||
    die "apt-get install postgresql-$PG_VERSION failed"
  installed || die "installed postgresql-$PG_VERSION, but $PG_BIN lacks initdb, pg_ctl or pgbench"
  say "installed PostgreSQL $PG_VERSION"
}

# --- cluster -------------------------------------------------------------------------

DIR=${ENTDB_POSTGRES_DIR:-$ROOT/.tmp/postgres}
PORT=""
CLEAN=0

parse_opts() {
  while [ $# -gt 0 ]; do
    case "$1" in
    --dir)
      DIR=${2:?--dir needs a value}
      shift 2
      ;;
    --port)
      PORT=${2:?--port needs a value}
      shift 2
      ;;
    --clean)
      CLEAN=1
      shift
      ;;
    *) die "unknown option: $1" ;;
    esac
  done
  DIR=$(realpath -m "$DIR")
}

# Runs a command as the cluster's owner: postgres when this script runs as root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

load_cluster() {
  [ -f "$DIR/cluster.env" ] || die "no cluster in $DIR (run: tests/infra/postgres.sh start --dir $DIR)"
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"
}

url() { echo "postgresql://postgres@127.0.0.1:$PORT/$DATABASE"; }

postmaster_pid() { head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true; }

running() {
  local pid
  pid=$(postmaster_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port on loopback that nothing answers on (bash cannot bind to ask the kernel).
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    port_in_use "$port" || {
      echo "$port"
      return 0
    }
  done
  die "found no free port on 127.0.0.1"
}

init_cluster() {
  [ -f "$DIR/data/PG_VERSION" ] && return 0
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  as_owner "$PG_BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
    tail -n 20 "$DIR/initdb.log" >&2
    die "initdb into $DIR/data failed (log above)"
  }
  # Settings for a benchmark on a small machine; durability as in production.
  cat >>"$DIR/data/postgresql.conf" <<CONF
# Written by tests/infra/postgres.sh.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
max_connections = 100
shared_buffers = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fdatasync
logging_collector = off
CONF
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR/data/postgresql.conf"
  return 0
}

cmd_start() {
  parse_opts "$@"
  installed || cmd_install
  mkdir -p "$DIR"
  local wanted_port=$PORT
  if [ -f "$DIR/cluster.env" ]; then
    load_cluster
    [ -z "$wanted_port" ] || [ "$wanted_port" = "$PORT" ] ||
      die "$DIR holds a cluster on port $PORT, not $wanted_port"
  else
    PORT=${wanted_port:-$(free_port)}
    printf 'PORT=%s\n' "$PORT" >"$DIR/cluster.env"
  fi
  init_cluster
  if running; then
    say "already running (pid $(postmaster_pid), $DIR)"
    url
    return 0
  fi
  port_in_use "$PORT" && die "port 127.0.0.1:$PORT is in use by another process"
  local started=$SECONDS
  [ "$(id -u)" = 0 ] && touch "$DIR/server.log" && chown postgres: "$DIR/server.log"
  as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -o "-p $PORT" \
    -w -t "$START_TIMEOUT" start >/dev/null || {
    tail -n 30 "$DIR/server.log" >&2
    die "PostgreSQL in $DIR did not start (timeout ${START_TIMEOUT}s; log above)"
  }
  if ! as_owner "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAqc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
    as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DATABASE"
  fi
  say "PostgreSQL $PG_VERSION ready in $((SECONDS - started))s (pid $(postmaster_pid), $DIR)"
  url
}

cmd_stop() {
  parse_opts "$@"
  if [ ! -f "$DIR/cluster.env" ]; then
    say "no cluster in $DIR"
    return 0
  fi
  load_cluster
  if running; then
    # Fast shutdown: roll back open sessions, checkpoint, exit. Immediate after the timeout.
    as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null || {
      say "did not stop within ${STOP_TIMEOUT}s: immediate shutdown"
      as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w -t 10 stop >/dev/null || true
    }
  fi
  say "stopped PostgreSQL in $DIR"
  if [ "$CLEAN" = 1 ]; then
    rm -rf "$DIR"
    say "removed $DIR"
  fi
}

cmd_status() {
  parse_opts "$@"
  if [ ! -f "$DIR/cluster.env" ]; then
    say "no cluster in $DIR"
    return 1
  fi
  load_cluster
  if running; then
    echo "running (pid $(postmaster_pid)): $(url)"
    return 0
  fi
  echo "stopped: $(url)"
  return 1
}

cmd_url() {
  parse_opts "$@"
  load_cluster
  url
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
  install) cmd_install ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  url) cmd_url "$@" ;;
  *)
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
  esac
}

main "$@"
