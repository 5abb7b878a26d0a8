#!/usr/bin/env bash
# Serve drain rate with L1 coherence off vs tracking, in one run (docs/reliability.md,
# "L1 coherence"): the drain recipe of docs/operations.md, one instance and two instances in
# one group, alternating the modes ROUNDS times.
#
# Starts its own redis-server on a free 127.0.0.1 port (no persistence). Per mode and round:
# FLUSHALL, `pairwarm feed` a backlog of COUNT updates (the original's envelopes, no
# trimming), then
#   one  `serve --max-updates COUNT` drains it; its `stream: ... updates/s` line and its
#        final `L1 hit` figure are printed with its user + sys CPU;
#   two  two `serve`s (consumers a and b, one group) drain it together; the wall time from
#        their start until the group has read everything and nothing is pending, and each
#        one's L1 hit figure at SIGTERM.
#
# Usage: scripts/coherence-bench.sh  (COUNT=200000 ROUNDS=2)
# Needs redis-server, redis-cli, python3; builds target/release/pairwarm unless PAIRWARM_BIN
# is set.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-200000}
ROUNDS=${ROUNDS:-2}

if [ -z "${PAIRWARM_BIN:-}" ]; then
  cargo build --release -q -p pairwarm-cli
  PAIRWARM_BIN=target/release/pairwarm
fi
BIN=$PAIRWARM_BIN

work=$(mktemp -d)
redis_pid=""
pids=()
cleanup() {
  for p in "${pids[@]}" "$redis_pid"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
redis_pid=$!
URL="redis://127.0.0.1:$port/0"
cli() { redis-cli -p "$port" "$@"; }
until cli PING >/dev/null 2>&1; do sleep 0.05; done

backlog() {
  cli FLUSHALL >/dev/null
  "$BIN" feed --redis-url "$URL" --synthetic --count "$COUNT" --rate 0 --maxlen 0 --quiet
}

# Entries of the group not yet read plus those read and not acknowledged.
outstanding() {
  python3 - "$port" <<'EOF'
import subprocess, sys
port = sys.argv[1]
def cli(*a):
    return subprocess.run(["redis-cli", "-p", port, "--raw", *a], capture_output=True, text=True).stdout.split("\n")
g = cli("XINFO", "GROUPS", "stream:price-updates")
fields = dict(zip(g[0::2], g[1::2]))
print(int(fields.get("lag") or 0) + int(fields.get("pending") or 0) if fields else -1)
EOF
}

hit() { grep -o 'L1 hit *[0-9.]*%' "$1" | tail -1 | tr -s ' '; }

for round in $(seq 1 "$ROUNDS"); do
  for mode in off tracking; do
    backlog
    log="$work/one-$mode.log"
    CACHE_L1_COHERENCE=$mode REDIS_URL=$URL /usr/bin/time -f "%U s user, %S s sys" \
      "$BIN" serve --listen 127.0.0.1:0 --status-interval 0 --group-start beginning \
      --max-updates "$COUNT" >"$log" 2>&1
    echo "round $round one  $mode: $(grep -o 'stream: .* updates/s' "$log" | tail -1); $(hit "$log"); $(tail -1 "$log")"

    backlog
    start=$(date +%s.%N)
    pids=()
    for c in a b; do
      CACHE_L1_COHERENCE=$mode REDIS_URL=$URL "$BIN" serve --listen 127.0.0.1:0 \
        --status-interval 0 --group-start beginning --consumer "$c" \
        >"$work/two-$mode-$c.log" 2>&1 &
      pids+=($!)
    done
    sleep 0.2
    until [ "$(outstanding)" = "0" ]; do sleep 0.05; done
    end=$(date +%s.%N)
    for p in "${pids[@]}"; do kill -TERM "$p"; wait "$p" || true; done
    pids=()
    secs=$(python3 -c "print(f'{$end - $start:.2f}')")
    rate=$(python3 -c "print(f'{$COUNT / ($end - $start):.0f}')")
    echo "round $round two  $mode: $COUNT updates in $secs s = $rate updates/s (wall, incl. start); a: $(hit "$work/two-$mode-a.log"), b: $(hit "$work/two-$mode-b.log")"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
