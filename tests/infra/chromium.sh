#!/usr/bin/env bash
# Installs Debian's Chromium for the browser end-to-end test (tests/e2e/browser.test.ts),
# which drives it through playwright-core. No browser download through npm: the
# executable comes from the distribution's package.
#
#   tests/infra/chromium.sh install   # idempotent; apt-get install chromium when missing
#   tests/infra/chromium.sh path      # prints the executable path; exit 1 when missing
#
# Environment: ENTDB_CHROMIUM (an executable to use instead of /usr/bin/chromium),
# ENTDB_CHROMIUM_INSTALL_TIMEOUT (s, default 900).
#
# Installing needs root (CI runs as root on a fresh machine); every wait is bounded.
set -euo pipefail

CHROMIUM=${ENTDB_CHROMIUM:-/usr/bin/chromium}
INSTALL_TIMEOUT=${ENTDB_CHROMIUM_INSTALL_TIMEOUT:-900}

say() { echo "chromium.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

installed() { [ -x "$CHROMIUM" ]; }

cmd_install() {
  if installed; then
    say "Chromium already installed: $CHROMIUM"
    return 0
  fi
  [ -z "${ENTDB_CHROMIUM:-}" ] ||
    die "ENTDB_CHROMIUM=$ENTDB_CHROMIUM is not an executable (unset it to install /usr/bin/chromium)"
  command -v apt-get >/dev/null || die "apt-get not found: install Chromium by hand, or set ENTDB_CHROMIUM"
  [ "$(id -u)" = 0 ] || die "installing Chromium needs root (apt-get install chromium), or set ENTDB_CHROMIUM"
  say "installing Debian's chromium package"
  # A fresh machine has no package lists yet; without them chromium is "not found".
  # Another apt-get running (a second install, unattended upgrades) holds the dpkg lock:
  # wait for it instead of failing at once.
  timeout "$INSTALL_TIMEOUT" apt-get -o DPkg::Lock::Timeout=300 update -q >&2 ||
    die "apt-get update failed (output above)"
  DEBIAN_FRONTEND=noninteractive timeout "$INSTALL_TIMEOUT" \
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium >&2 ||
    die "apt-get install chromium failed (output above)"
  installed || die "the chromium package is installed but $CHROMIUM is missing"
  say "installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
}

cmd_path() {
  installed || die "no Chromium at $CHROMIUM (run: bash tests/infra/chromium.sh install)"
  echo "$CHROMIUM"
}

main() {
  local cmd=${1:-}
  case "$cmd" in
  install) cmd_install ;;
  path) cmd_path ;;
  *)
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
  esac
}

main "$@"
