#!/usr/bin/env bash
# A Kinesis-compatible server on loopback for tests: moto's server mode, run by
# tests/infra/moto.sh under the name `kinesis` (its own process and state dir).
#
#   tests/infra/kinesis.sh start [--port P]   # prints the endpoint URL on stdout (default port 15200)
#   tests/infra/kinesis.sh stop
#   tests/infra/kinesis.sh status             # exit 0 only if it runs and answers
#
# Point the server at it with AWS_ENDPOINT_URL_KINESIS=<that URL>, AWS_REGION and any
# non-empty AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. moto keeps streams in memory:
# a stop loses them.
set -euo pipefail

MOTO="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto.sh"
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
start)
  port=15200
  while [ $# -gt 0 ]; do
    case "$1" in
    --port)
      port=${2:?--port needs a value}
      shift 2
      ;;
    *)
      echo "kinesis.sh: unknown argument: $1" >&2
      exit 1
      ;;
    esac
  done
  exec bash "$MOTO" start --name kinesis --port "$port"
  ;;
stop | status | endpoint) exec bash "$MOTO" "$cmd" --name kinesis ;;
*)
  echo "usage: kinesis.sh start [--port P] | stop | status | endpoint" >&2
  exit 1
  ;;
esac
