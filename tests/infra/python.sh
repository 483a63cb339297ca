#!/usr/bin/env bash
# Installs the virtualenv the Python client's tests use: the pinned packages of
# tests/infra/python-requirements.txt (connectrpc, protobuf, mypy, pytest, FastAPI, …)
# in the cache, once per requirements file.
#
#   tests/infra/python.sh install    # idempotent; prints nothing when already installed
#   tests/infra/python.sh path       # prints the virtualenv's directory
#
# The venv's name carries a hash of the requirements file, so changing a pin installs a
# new venv beside the old one instead of mutating a venv another run may be using.
# Environment: ENTDB_CACHE_DIR (virtualenv root), ENTDB_PYTHON_INSTALL_TIMEOUT (s, default 600).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REQUIREMENTS=$ROOT/tests/infra/python-requirements.txt
CACHE_DIR=${ENTDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entdb}
HASH=$(sha256sum "$REQUIREMENTS" | cut -c1-12)
VENV=$CACHE_DIR/python-client-$HASH
INSTALL_TIMEOUT=${ENTDB_PYTHON_INSTALL_TIMEOUT:-600}

say() { echo "python.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

installed() { [ -f "$VENV/.complete" ] && [ -x "$VENV/bin/python" ]; }

cmd_install() {
  if installed; then
    say "python client venv already installed in $VENV"
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  exec 8>"$CACHE_DIR/.python-client-$HASH.lock"
  flock -w "$((INSTALL_TIMEOUT + 30))" 8 || die "another install of $VENV is stuck"
  if installed; then
    exec 8>&-
    return 0
  fi
  command -v python3 >/dev/null || die "python3 not found: the Python client needs Python 3.11+"
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
    die "python3 is $(python3 --version 2>&1); the Python client needs 3.11+"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    command -v apt-get >/dev/null || die "python3 has no venv module; install python3-venv"
    [ "$(id -u)" = 0 ] || die "python3 has no venv module; install python3-venv (needs root)"
    timeout "$INSTALL_TIMEOUT" apt-get -o DPkg::Lock::Timeout=300 update -q >&2
    timeout "$INSTALL_TIMEOUT" apt-get -o DPkg::Lock::Timeout=300 install -y -q python3-venv >&2
  fi
  rm -rf "$VENV"
  say "installing $(grep -vc '^\s*\(#\|$\)' "$REQUIREMENTS") pinned packages into $VENV (PyPI)"
  python3 -m venv "$VENV" || die "could not create a virtualenv in $VENV"
  if ! timeout "$INSTALL_TIMEOUT" "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$REQUIREMENTS" >"$VENV/pip.log" 2>&1; then
    tail -n 30 "$VENV/pip.log" >&2
    rm -rf "$VENV"
    die "pip install -r $REQUIREMENTS failed (log above)"
  fi
  touch "$VENV/.complete"
  exec 8>&-
  say "python client venv installed"
}

case "${1:-}" in
install) cmd_install ;;
path) echo "$VENV" ;;
*) die "usage: python.sh install | path" ;;
esac
