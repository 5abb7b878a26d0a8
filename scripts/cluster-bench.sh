#!/usr/bin/env bash
# Drain rate of `pairwarm serve` on a 3-master Redis Cluster against a single redis-server,
# in one run (issue 13): the recipe of docs/operations.md "Measuring throughput" (a backlog
# fed first with `--maxlen 0`, then serve until it has handled all of it, `--group-start
# beginning`), on each target in turn, ROUNDS times alternating, for both entry formats.
#
# Starts its own servers on free 127.0.0.1 ports (no persistence): one redis-server, and
# three `redis-server --cluster-enabled yes` joined by `redis-cli --cluster create`. Prints
# serve's own summary line per run (`stream: N entries (U updates) in S s = X entries/s, Y
# updates/s ...`) and serve's user + sys CPU time; the ratio is cluster / single of the
# updates/s of the same format and round.
#
# Usage: scripts/cluster-bench.sh  (COUNT=200000 ROUNDS=2 BATCH=50 HASH_TAGS=false)
# Needs redis-server, redis-cli, python3; builds target/release/pairwarm unless
# PAIRWARM_BIN is set.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-200000}
ROUNDS=${ROUNDS:-2}
BATCH=${BATCH:-50}
HASH_TAGS=${HASH_TAGS:-false}

if [ -z "${PAIRWARM_BIN:-}" ]; then
  cargo build --release -q -p pairwarm-cli
  PAIRWARM_BIN=target/release/pairwarm
fi
BIN=$PAIRWARM_BIN

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_redis() { # dir port [args...]
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" "$@" &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$port" PING >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-server on $port did not start" >&2; exit 1
}

single=$(free_port)
start_redis "$work/single" "$single"
nodes=()
for i in 1 2 3; do
  port=$(free_port); bus=$(free_port)
  start_redis "$work/node$i" "$port" --cluster-enabled yes --cluster-port "$bus" \
    --cluster-config-file "$work/node$i/nodes.conf"
  nodes+=("127.0.0.1:$port")
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
for n in "${nodes[@]}"; do
  for _ in $(seq 100); do
    redis-cli -p "${n#*:}" CLUSTER INFO | grep -q cluster_state:ok && break; sleep 0.1
  done
done

echo "# $(date -u +%FT%TZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty'), redis $(redis-server --version | awk '{print $3}' | cut -d= -f2), $COUNT updates per run, REDIS_CLUSTER_HASH_TAGS=$HASH_TAGS on the cluster"

flush() { # target
  if [ "$1" = single ]; then
    redis-cli -p "$single" FLUSHALL >/dev/null
  else
    for n in "${nodes[@]}"; do redis-cli -p "${n#*:}" FLUSHALL >/dev/null; done
  fi
}

# One drain: feed COUNT updates, serve them all; prints updates/s.
drain() { # target format
  local target=$1 format=$2 url cluster_env=() feed_args=()
  flush "$target"
  if [ "$target" = single ]; then
    url="redis://127.0.0.1:$single/0"
  else
    url="redis://${nodes[0]}"
    feed_args=(--redis-cluster)
    cluster_env=(REDIS_CLUSTER=true "REDIS_CLUSTER_NODES=${nodes[1]},${nodes[2]}"
      "REDIS_CLUSTER_HASH_TAGS=$HASH_TAGS")
  fi
  case "$format" in
    original) feed_args+=(--format original --batch "$BATCH") ;;
    flat) feed_args+=(--format flat) ;;
  esac
  "$BIN" feed --redis-url "$url" "${feed_args[@]}" --synthetic --count "$COUNT" --rate 0 \
    --maxlen 0 --quiet 2>/dev/null
  env "${cluster_env[@]}" REDIS_URL="$url" /usr/bin/time -f "cpu %U user %S sys" -o "$work/time" \
    "$BIN" serve --listen 127.0.0.1:0 --status-interval 0 --group-start beginning \
    --max-updates "$COUNT" 2>"$work/serve.log"
  local line
  line=$(grep -o 'stream: [0-9]* entries ([0-9]* updates) in [^;]*' "$work/serve.log" | tail -1)
  echo "$target $format: $line; serve $(cat "$work/time")" >&2
  echo "$line" | sed -E 's/.* ([0-9.]+) updates\/s.*/\1/'
}

for round in $(seq "$ROUNDS"); do
  for format in original flat; do
    s=$(drain single "$format")
    c=$(drain cluster "$format")
    python3 -c "print(f'round $round $format: single {float(\"$s\"):,.0f} updates/s, cluster {float(\"$c\"):,.0f} updates/s, ratio cluster/single {float(\"$c\")/float(\"$s\"):.2f}')"
  done
done
