#!/usr/bin/env bash
# Installs and runs a real Apache Kafka (KRaft, combined broker+controller nodes) on
# loopback for tests. No tarball download: the broker jars come from Maven Central.
#
#   tests/infra/kafka.sh install                        # idempotent; jars into the cache
#   tests/infra/kafka.sh start [--nodes 1|3] [--dir D]  # prints the bootstrap list
#   tests/infra/kafka.sh stop [--dir D] [--clean]       # SIGTERM, SIGKILL after a timeout
#   tests/infra/kafka.sh kill-node N [N…] [--dir D]     # SIGKILL nodes (a crash)
#   tests/infra/kafka.sh start-node N [N…] [--dir D]    # restart them on their old storage
#   tests/infra/kafka.sh status [--dir D]               # exit 0 only if every node runs
#   tests/infra/kafka.sh bootstrap [--dir D]            # prints the bootstrap list
#
# Ports: one node listens on 127.0.0.1:19092; three nodes on 19192, 19193, 19194.
# Each node's controller listener is its broker port + 1000. `--port P` moves the
# first broker port. The state dir (default .tmp/kafka in the repository) holds
# cluster.env, and per node: server.properties, data/, server.log, pid.
#
# Environment: ENTDB_CACHE_DIR (jar cache root), ENTDB_KAFKA_VERSION (default 4.4.0),
# ENTDB_KAFKA_DIR (default state dir), ENTDB_KAFKA_HEAP (default 384m),
# ENTDB_KAFKA_START_TIMEOUT (s, default 120), ENTDB_KAFKA_STOP_TIMEOUT (s, default 20),
# ENTDB_KAFKA_INSTALL_TIMEOUT (s, default 600).
#
# Every wait is bounded; on a failed start the log tail of each node is printed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA_VERSION=${ENTDB_KAFKA_VERSION:-4.4.0}
CACHE_DIR=${ENTDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entdb}
KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
LIBS=$KAFKA_HOME/libs
POM=$ROOT/tests/infra/kafka/pom.xml
LOG4J_CONFIG=$ROOT/tests/infra/kafka/log4j2.properties
WAIT_READY=$ROOT/tests/infra/kafka/wait-ready.ts
HEAP=${ENTDB_KAFKA_HEAP:-384m}
START_TIMEOUT=${ENTDB_KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${ENTDB_KAFKA_STOP_TIMEOUT:-20}
INSTALL_TIMEOUT=${ENTDB_KAFKA_INSTALL_TIMEOUT:-600}
CONTROLLER_PORT_OFFSET=1000

say() { echo "kafka.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# --- install -------------------------------------------------------------------------

installed() { [ -f "$KAFKA_HOME/.complete" ] && [ -n "$(ls "$LIBS" 2>/dev/null)" ]; }

cmd_install() {
  if installed; then
    say "Kafka $KAFKA_VERSION already installed in $LIBS"
    return 0
  fi
  mkdir -p "$CACHE_DIR"
  # Two installs at once (e.g. two test workers) take turns; the second finds it done.
  exec 8>"$CACHE_DIR/.kafka-$KAFKA_VERSION.lock"
  flock -w "$((INSTALL_TIMEOUT + 30))" 8 || die "another install of Kafka $KAFKA_VERSION is stuck"
  if installed; then
    exec 8>&-
    return 0
  fi
  command -v java >/dev/null || die "java not found: Kafka $KAFKA_VERSION needs Java 17+ on PATH"
  command -v mvn >/dev/null || die "mvn not found: the broker jars are fetched with Maven"
  mkdir -p "$CACHE_DIR"
  # Resolve into a temp dir and rename: a crash mid-download leaves no half install.
  local tmp
  tmp=$(mktemp -d "$CACHE_DIR/.kafka-$KAFKA_VERSION.XXXXXX")
  say "installing Kafka $KAFKA_VERSION into $LIBS (Maven Central)"
  if ! timeout "$INSTALL_TIMEOUT" mvn -B -q -f "$POM" \
    dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" \
    -DincludeScope=runtime \
    -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    tail -n 40 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log above)"
  fi
  [ -f "$tmp/libs/kafka_2.13-$KAFKA_VERSION.jar" ] ||
    die "resolution finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
  rm -f "$tmp/mvn.log"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_HOME"
  mv "$tmp" "$KAFKA_HOME"
  exec 8>&-
  say "installed Kafka $KAFKA_VERSION ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
}

# --- cluster state -------------------------------------------------------------------

DIR=${ENTDB_KAFKA_DIR:-$ROOT/.tmp/kafka}
NODES=1
PORT=""
CLEAN=0

parse_opts() {
  while [ $# -gt 0 ]; do
    case "$1" in
    --nodes)
      NODES=${2:?--nodes needs a value}
      shift 2
      ;;
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
  case "$NODES" in 1 | 3) ;; *) die "--nodes must be 1 or 3, got $NODES" ;; esac
  DIR=$(realpath -m "$DIR")
}

# Loads cluster.env (written by start) so every later command knows the layout.
load_cluster() {
  [ -f "$DIR/cluster.env" ] || die "no cluster in $DIR (run: tests/infra/kafka.sh start --dir $DIR)"
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"
}

broker_port() { echo $((PORT + $1 - 1)); }
controller_port() { echo $((PORT + $1 - 1 + CONTROLLER_PORT_OFFSET)); }

bootstrap_list() {
  local i out=""
  for i in $(seq 1 "$NODES"); do out="$out${out:+,}127.0.0.1:$(broker_port "$i")"; done
  echo "$out"
}

node_pid() { cat "$DIR/node-$1/pid" 2>/dev/null || true; }

node_running() {
  local pid
  pid=$(node_pid "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {
  local n=$1 voters="" i replication=$((NODES < 3 ? NODES : 3))
  for i in $(seq 1 "$NODES"); do voters="$voters${voters:+,}$i@127.0.0.1:$(controller_port "$i")"; done
  mkdir -p "$DIR/node-$n/data"
  cat >"$DIR/node-$n/server.properties" <<EOF
# Written by tests/infra/kafka.sh: a combined broker+controller on loopback for tests.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/node-$n/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=$replication
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$((replication < 2 ? 1 : 2))
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=$replication
share.coordinator.state.topic.min.isr=$((replication < 2 ? 1 : 2))
# Tests join consumer groups constantly: no initial rebalance delay.
group.initial.rebalance.delay.ms=0
# Two cores for everything: few threads per node.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
# Fault tests kill nodes: notice a dead broker in seconds, not the default 9 s / 30 s.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
replica.lag.time.max.ms=4000
log.segment.bytes=16777216
EOF
}

jvm_opts() {
  local n=$1
  echo "-Xms64m -Xmx$HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true" \
    "-Dlog4j2.configurationFile=$LOG4J_CONFIG -Dkafka.logs.dir=$DIR/node-$n"
}

format_node() {
  local n=$1
  [ -f "$DIR/node-$n/data/meta.properties" ] && return 0
  # shellcheck disable=SC2046
  timeout 120 java $(jvm_opts "$n") -cp "$LIBS/*" kafka.tools.StorageTool format \
    -t "$CLUSTER_ID" -c "$DIR/node-$n/server.properties" >"$DIR/node-$n/format.log" 2>&1 || {
    tail -n 20 "$DIR/node-$n/format.log" >&2
    die "formatting storage of node $n failed (log above, $DIR/node-$n/format.log)"
  }
}

launch_node() {
  local n=$1 port
  node_running "$n" && return 0
  for port in $(broker_port "$n") $(controller_port "$n"); do
    port_in_use "$port" && die "port 127.0.0.1:$port is in use by another process (not node $n of $DIR)"
  done
  rm -f "$DIR/node-$n/pid"
  # setsid: the broker outlives this script and is not hit by the caller's Ctrl-C.
  # The inner shell writes its own pid and execs java, so the pid file names the JVM.
  # The lock descriptors are closed for it: a broker holding them would block every
  # later start.
  # shellcheck disable=SC2016,SC2046
  setsid sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$DIR/node-$n/pid" \
    java $(jvm_opts "$n") -cp "$LIBS/*" kafka.Kafka "$DIR/node-$n/server.properties" \
    >>"$DIR/node-$n/server.log" 2>&1 </dev/null 8>&- 9>&- &
  local waited=0
  while [ ! -s "$DIR/node-$n/pid" ] && [ $waited -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  [ -s "$DIR/node-$n/pid" ] || die "node $n did not start (no pid file)"
}

print_log_tails() {
  local i
  for i in $(seq 1 "$NODES"); do
    echo "----- node $i: last lines of $DIR/node-$i/server.log -----" >&2
    tail -n 30 "$DIR/node-$i/server.log" >&2 2>/dev/null || echo "(no log)" >&2
  done
}

# Waits until each given node (space-separated ids) serves, asked through its own port.
wait_ready() {
  local pids="" nodes="" i
  for i in $(seq 1 "$NODES"); do pids="$pids${pids:+,}$(node_pid "$i")"; done
  for i in "$@"; do nodes="$nodes${nodes:+,}$i=127.0.0.1:$(broker_port "$i")"; done
  # shellcheck disable=SC1091
  . "$ROOT/tests/infra/node.sh"
  if ! timeout $((START_TIMEOUT + 10)) node "$WAIT_READY" --nodes "$nodes" \
    --timeout "$START_TIMEOUT" --pids "$pids"; then
    print_log_tails
    die "Kafka in $DIR did not become ready (timeout ${START_TIMEOUT}s; reason and log tails above)"
  fi
}

with_lock() {
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock -w "$((START_TIMEOUT + 30))" 9 || die "another kafka.sh holds $DIR/.lock"
}

cmd_start() {
  parse_opts "$@"
  with_lock
  local wanted_nodes=$NODES wanted_port=$PORT
  if [ -f "$DIR/cluster.env" ]; then
    load_cluster
    [ "$NODES" = "$wanted_nodes" ] || die "$DIR holds a $NODES-node cluster, not $wanted_nodes" \
      "(stop it with --clean, or use another --dir)"
    [ -z "$wanted_port" ] || [ "$wanted_port" = "$PORT" ] ||
      die "$DIR holds a cluster on port $PORT, not $wanted_port"
  else
    PORT=${wanted_port:-$([ "$NODES" = 1 ] && echo 19092 || echo 19192)}
    CLUSTER_ID=$(random_cluster_id)
    printf 'NODES=%s\nPORT=%s\nCLUSTER_ID=%s\nKAFKA_VERSION=%s\n' \
      "$NODES" "$PORT" "$CLUSTER_ID" "$KAFKA_VERSION" >"$DIR/cluster.env"
  fi
  installed || cmd_install
  local started=$SECONDS i
  for i in $(seq 1 "$NODES"); do write_config "$i"; done
  # Formatting starts a JVM per node: do them side by side.
  local fpids=()
  for i in $(seq 1 "$NODES"); do
    format_node "$i" &
    fpids+=($!)
  done
  for i in "${fpids[@]}"; do wait "$i" || exit 1; done
  for i in $(seq 1 "$NODES"); do launch_node "$i"; done
  # shellcheck disable=SC2046
  wait_ready $(seq 1 "$NODES")
  say "Kafka $KAFKA_VERSION ready in $((SECONDS - started))s ($NODES node(s), $DIR)"
  bootstrap_list
}

# A Kafka cluster id is a base64url UUID; one starting with '-' would read as an option.
random_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [ "${id:0:1}" != "-" ] && break
  done
  echo "$id"
}

# Sends SIGTERM to the given nodes, then SIGKILL to any still alive after GRACE seconds.
stop_nodes() {
  local i pid deadline=$((SECONDS + GRACE)) left
  for i in "$@"; do
    pid=$(node_pid "$i")
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  while :; do
    left=0
    for i in "$@"; do node_running "$i" && left=1; done
    [ $left = 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      for i in "$@"; do
        if node_running "$i"; then
          say "node $i did not stop within ${GRACE}s: SIGKILL"
          kill -KILL "$(node_pid "$i")" 2>/dev/null || true
        fi
      done
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  for i in "$@"; do rm -f "$DIR/node-$i/pid"; done
}

cmd_stop() {
  parse_opts "$@"
  if [ ! -f "$DIR/cluster.env" ]; then
    say "no cluster in $DIR"
    return 0
  fi
  load_cluster
  # Nodes stopping together can wait on each other's controlled shutdown until the
  # quorum is gone; data about to be removed does not need a clean shutdown.
  GRACE=$([ "$CLEAN" = 1 ] && echo 5 || echo "$STOP_TIMEOUT")
  # shellcheck disable=SC2046
  stop_nodes $(seq 1 "$NODES")
  say "stopped Kafka in $DIR"
  if [ "$CLEAN" = 1 ]; then
    rm -rf "$DIR"
    say "removed $DIR"
  fi
}

node_arg() {
  local n=${1:-}
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "$NODES" ]; then
    die "node must be 1..$NODES, got '${n}'"
  fi
}

# Splits "N [N…] [--opts]" into NODE_ARGS and the options.
split_node_args() {
  NODE_ARGS=()
  while [ $# -gt 0 ] && [[ "$1" != --* ]]; do
    NODE_ARGS+=("$1")
    shift
  done
  OPT_ARGS=("$@")
}

cmd_kill_node() {
  split_node_args "$@"
  parse_opts "${OPT_ARGS[@]}"
  load_cluster
  [ ${#NODE_ARGS[@]} -gt 0 ] || die "kill-node needs a node number (1..$NODES)"
  local n pid deadline=$((SECONDS + 10))
  for n in "${NODE_ARGS[@]}"; do
    node_arg "$n"
    pid=$(node_pid "$n")
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  for n in "${NODE_ARGS[@]}"; do
    while node_running "$n"; do
      [ $SECONDS -ge $deadline ] && die "node $n (pid $(node_pid "$n")) survived SIGKILL for 10s"
      sleep 0.1
    done
    rm -f "$DIR/node-$n/pid"
    say "killed node $n"
  done
}

cmd_start_node() {
  split_node_args "$@"
  parse_opts "${OPT_ARGS[@]}"
  load_cluster
  [ ${#NODE_ARGS[@]} -gt 0 ] || die "start-node needs a node number (1..$NODES)"
  installed || die "Kafka $KAFKA_VERSION is not installed (run: tests/infra/kafka.sh install)"
  with_lock
  local n started=$SECONDS
  for n in "${NODE_ARGS[@]}"; do
    node_arg "$n"
    launch_node "$n"
  done
  wait_ready "${NODE_ARGS[@]}"
  say "node(s) ${NODE_ARGS[*]} ready in $((SECONDS - started))s"
  bootstrap_list
}

cmd_status() {
  parse_opts "$@"
  if [ ! -f "$DIR/cluster.env" ]; then
    say "no cluster in $DIR"
    return 1
  fi
  load_cluster
  local i ok=0
  for i in $(seq 1 "$NODES"); do
    if node_running "$i"; then
      echo "node $i: running (pid $(node_pid "$i"), 127.0.0.1:$(broker_port "$i"))"
    else
      echo "node $i: stopped (127.0.0.1:$(broker_port "$i"))"
      ok=1
    fi
  done
  echo "bootstrap: $(bootstrap_list)"
  return $ok
}

cmd_bootstrap() {
  parse_opts "$@"
  load_cluster
  bootstrap_list
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
  install) cmd_install ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill-node) cmd_kill_node "$@" ;;
  start-node) cmd_start_node "$@" ;;
  status) cmd_status "$@" ;;
  bootstrap) cmd_bootstrap "$@" ;;
  *)
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
  esac
}

main "$@"
