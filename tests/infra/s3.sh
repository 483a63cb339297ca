#!/usr/bin/env bash
# A real S3-compatible server on loopback for tests: moto's server mode, through
# tests/infra/moto.sh, under the name `s3` on port 15100 unless told otherwise.
#
#   tests/infra/s3.sh start [--port P]   # prints the endpoint URL on stdout
#   tests/infra/s3.sh stop
#   tests/infra/s3.sh status             # exit 0 only if it runs and answers
#
# Clients use path-style addressing and any non-empty credentials.
set -euo pipefail
MOTO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto.sh"
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start)
  port=15100
  while [ $# -gt 0 ]; do
    case "$1" in
    --port)
      port=${2:?--port needs a value}
      shift 2
      ;;
    *)
      echo "s3.sh: unknown argument: $1" >&2
      exit 2
      ;;
    esac
  done
  exec "$MOTO" start --name s3 --port "$port"
  ;;
stop | status | endpoint) exec "$MOTO" "$cmd" --name s3 ;;
*)
  echo "usage: s3.sh start [--port P] | stop | status | endpoint" >&2
  exit 2
  ;;
esac
