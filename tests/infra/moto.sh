#!/usr/bin/env bash
# Installs and runs moto's server mode (PyPI `moto[server]`), a real S3- and
# Kinesis-compatible HTTP server, on loopback for tests. tests/infra/s3.sh and
# tests/infra/kinesis.sh are thin names over it.
#
#   tests/infra/moto.sh install                         # idempotent; a virtualenv in the cache
#   tests/infra/moto.sh start [--name N] [--port P]     # prints the endpoint URL on stdout
#   tests/infra/moto.sh stop [--name N]                 # SIGTERM, SIGKILL after a timeout
#   tests/infra/moto.sh status [--name N]               # exit 0 only if it runs and answers
#   tests/infra/moto.sh endpoint [--name N]             # prints the endpoint URL
#
# Each name is one server with its own state dir (.tmp/moto-NAME: pid, port, server.log).
# Default name `moto`, default port 15000. moto keeps its state in memory: a stopped
# server has lost its buckets and streams (fault tests that need an outage without a
# reset put a loopback proxy in front instead).
#
# Environment: ENTDB_CACHE_DIR (virtualenv root), ENTDB_MOTO_VERSION (default 5.2.6),
# ENTDB_MOTO_START_TIMEOUT (s, default 60), ENTDB_MOTO_INSTALL_TIMEOUT (s, default 600).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOTO_VERSION=${ENTDB_MOTO_VERSION:-5.2.6}
CACHE_DIR=${ENTDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entdb}
VENV=$CACHE_DIR/moto-$MOTO_VERSION
START_TIMEOUT=${ENTDB_MOTO_START_TIMEOUT:-60}
INSTALL_TIMEOUT=${ENTDB_MOTO_INSTALL_TIMEOUT:-600}

say() { echo "moto.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

installed() { [ -f "$VENV/.complete" ] && [ -x "$VENV/bin/moto_server" ]; }

cmd_install() {
  if installed; then
    say "moto $MOTO_VERSION already installed in $VENV"
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/.moto-$MOTO_VERSION.lock"
  flock -w "$((INSTALL_TIMEOUT + 30))" 8 || die "another install of moto $MOTO_VERSION is stuck"
  if installed; then
    exec 8>&-
    return 0
  fi
  command -v python3 >/dev/null || die "python3 not found: moto needs Python 3.9+"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    command -v apt-get >/dev/null || die "python3 has no venv module; install python3-venv"
    [ "$(id -u)" = 0 ] || die "python3 has no venv module; install python3-venv (needs root)"
    timeout "$INSTALL_TIMEOUT" apt-get -o DPkg::Lock::Timeout=300 update -q >&2
    timeout "$INSTALL_TIMEOUT" apt-get -o DPkg::Lock::Timeout=300 install -y -q python3-venv >&2
  fi
  rm -rf "$VENV"
  say "installing moto[server]==$MOTO_VERSION into $VENV (PyPI)"
  python3 -m venv "$VENV" || die "could not create a virtualenv in $VENV"
  if ! timeout "$INSTALL_TIMEOUT" "$VENV/bin/pip" install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" >"$VENV/pip.log" 2>&1; then
    tail -n 30 "$VENV/pip.log" >&2
    rm -rf "$VENV"
    die "pip install moto[server]==$MOTO_VERSION failed (log above)"
  fi
  touch "$VENV/.complete"
  exec 8>&-
  say "moto $MOTO_VERSION installed"
}

# --- arguments -----------------------------------------------------------------------

NAME=moto
PORT=15000
parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
    --name)
      NAME=${2:?--name needs a value}
      shift 2
      ;;
    --port)
      PORT=${2:?--port needs a value}
      shift 2
      ;;
    *) die "unknown argument: $1" ;;
    esac
  done
  [[ "$NAME" =~ ^[a-z0-9-]+$ ]] || die "--name must be lower-case letters, digits and '-': $NAME"
  STATE=${ENTDB_MOTO_DIR:-$ROOT/.tmp}/moto-$NAME
}

pid_of() { cat "$STATE/pid" 2>/dev/null || true; }
running() {
  local pid
  pid=$(pid_of)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
endpoint() { echo "http://127.0.0.1:$(cat "$STATE/port")"; }
# The dashboard page: static, so it answers whatever the server holds (`/moto-api/data.json`
# serializes every object, and fails once moto holds some multipart-upload states).
answers() { curl -fsS -o /dev/null --max-time 2 "$(endpoint)/moto-api/" 2>/dev/null; }

cmd_start() {
  if running && answers; then
    endpoint
    return 0
  fi
  installed || cmd_install
  mkdir -p "$STATE"
  echo "$PORT" >"$STATE/port"
  # The server only binds loopback; credentials are any non-empty pair.
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$STATE/server.log" 2>&1 &
  echo $! >"$STATE/pid"
  local deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    if ! running; then
      tail -n 30 "$STATE/server.log" >&2
      die "moto server '$NAME' exited during start (log above)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$STATE/server.log" >&2
      cmd_stop
      die "moto server '$NAME' did not answer on port $PORT within ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  say "moto server '$NAME' answers at $(endpoint)"
  endpoint
}

cmd_stop() {
  local pid
  pid=$(pid_of)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
    say "moto server '$NAME' stopped"
  fi
  rm -f "$STATE/pid"
}

cmd_status() { running && answers; }

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
install) cmd_install ;;
start)
  parse_args "$@"
  cmd_start
  ;;
stop)
  parse_args "$@"
  cmd_stop
  ;;
status)
  parse_args "$@"
  cmd_status
  ;;
endpoint)
  parse_args "$@"
  running || die "moto server '$NAME' is not running"
  endpoint
  ;;
*) die "usage: moto.sh install | start|stop|status|endpoint [--name N] [--port P]" ;;
esac
