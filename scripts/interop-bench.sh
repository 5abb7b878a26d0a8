#!/usr/bin/env bash
# End-to-end throughput of `pairwarm serve` on loopback: the original system's signed batch
# envelopes side by side with pairwarm's flat entries, in one run (issue 12's benchmark).
#
# Starts its own redis-server on a free 127.0.0.1 port (no persistence) and runs
# `pairwarm feed` and `pairwarm serve` (release build) against it, all on this machine:
#
#   capacity   per format: feed COUNT updates as fast as Redis takes them while serve
#              consumes them; serve's updates/s from its first to its last acknowledgement;
#   sustained  per format and per rate in RATES: feed at that rate for SECS seconds and
#              sample the backlog (entries added and not yet acknowledged by serve's group)
#              every second. Serve keeps up when it has handled every update within 5 s of
#              the feed's end; a backlog above 3 s of the offered rate stops the run.
#
# Every row gives the CPU time per update of feed, serve and redis-server (user + sys), so
# where the cores went is visible, and the load average before and after.
#
# Usage: scripts/interop-bench.sh  (COUNT=1000000 RATES="250000 100000 50000" SECS=20 BATCH=50)
# Needs redis-server, redis-cli, python3; builds target/release/pairwarm unless
# PAIRWARM_BIN is set.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-1000000}
RATES=${RATES:-250000 100000 50000}
SECS=${SECS:-20}
BATCH=${BATCH:-50}
KEY=${KEY:-interop-bench-signing-key}
MIN_SPREAD_BPS=${MIN_SPREAD_BPS:-100}

if [ -z "${PAIRWARM_BIN:-}" ]; then
  cargo build --release -q -p pairwarm-cli
  PAIRWARM_BIN=target/release/pairwarm
fi
BIN=$PAIRWARM_BIN

work=$(mktemp -d)
redis_pid=""
serve_pid=""
feed_pid=""
# Stops `pid` and its children (serve and feed run under /usr/bin/time, which does not
# pass SIGTERM on).
stop() {
  [ -n "$1" ] || return 0
  pkill -TERM -P "$1" 2>/dev/null || true
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  for p in "$feed_pid" "$serve_pid" "$redis_pid"; do stop "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
redis_pid=$!
URL="redis://127.0.0.1:$port/0"
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 50); do cli PING >/dev/null 2>&1 && break; sleep 0.1; done

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# $(date -u +%FT%TZ), $(nproc) cores, load average before: $(load)"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+dirty'), redis $(redis-server --version | awk '{print $3}' | cut -d= -f2)"
echo "# serve: defaults (warming on, L2 write-through, detector) with --min-spread-bps $MIN_SPREAD_BPS; STREAM_SIGNING_KEY set on both sides; original = batch envelopes of $BATCH"

format_args() {
  case "$1" in
    original) echo "--format original --batch $BATCH" ;;
    flat) echo "--format flat" ;;
  esac
}
per_entry() { if [ "$1" = original ]; then echo "$BATCH"; else echo 1; fi; }

# Entries of `stream` added and not yet acknowledged by group `pairwarm`. (awk reads all of
# redis-cli's output: exiting early would kill it with SIGPIPE, which pipefail turns into
# the script's exit.)
backlog() {
  local stream=$1 added read pending
  added=$(cli XINFO STREAM "$stream" | awk '/^entries-added$/{getline; v = $0} END {print v}')
  read=$(cli XINFO GROUPS "$stream" | awk '/^entries-read$/{getline; v = $0} END {print v}')
  pending=$(cli XINFO GROUPS "$stream" | awk '/^pending$/{getline; v = $0} END {print v}')
  # The counters come from separate calls: clamp the few that straddle an ack.
  local b=$((${added:-0} - ${read:-0} + ${pending:-0}))
  echo $((b < 0 ? 0 : b))
}

# redis-server's CPU time so far, in clock ticks.
redis_ticks() { awk '{print $14 + $15}' "/proc/$redis_pid/stat"; }

# Starts serve on `stream` until it has handled `count` updates; sets serve_pid.
start_serve() {
  local stream=$1 count=$2 log=$3
  REDIS_URL=$URL STREAM_SIGNING_KEY=$KEY PAIRWARM_GROUP_START=beginning \
    /usr/bin/time -f "%U %S" -o "$log.time" \
    "$BIN" serve --listen 127.0.0.1:0 --status-interval 0 --streams "$stream" \
    --min-spread-bps "$MIN_SPREAD_BPS" --max-updates "$count" 2>"$log" >/dev/null &
  serve_pid=$!
  for _ in $(seq 100); do
    cli XINFO GROUPS "$stream" 2>/dev/null | grep -q '^pairwarm$' && return 0
    sleep 0.1
  done
  echo "serve did not create its group on $stream" >&2
  cat "$log" >&2
  return 1
}

# Starts feed of `n` updates at `rate` (0: unpaced) into `stream`; sets feed_pid.
start_feed() {
  local fmt=$1 stream=$2 n=$3 rate=$4 maxlen=$5
  # shellcheck disable=SC2046
  STREAM_SIGNING_KEY=$KEY /usr/bin/time -f "%U %S" -o "$work/feed.time" \
    "$BIN" feed --redis-url "$URL" --synthetic --count "$n" --rate "$rate" \
    --maxlen "$maxlen" --quiet --stream "$stream" $(format_args "$fmt") \
    2>"$work/feed.log" &
  feed_pid=$!
}

# "<updates/s> <p99 µs>" from serve's final `stream:` line.
serve_figures() {
  sed -n 's/.*entries ([0-9]* updates) in [0-9.]* s = [0-9]* entries\/s, \([0-9]*\) updates\/s.*p99 \([0-9]*\) µs.*/\1 \2/p' "$1" | tail -1
}
fed_rate() { sed -n 's/.*(\([0-9]*\) updates\/s).*/\1/p' "$work/feed.log"; }
# µs of CPU per update from a /usr/bin/time "%U %S" file (empty if the process was killed).
cpu_us() { awk -v n="$2" 'NF == 2 {printf "%.2f", ($1 + $2) * 1e6 / n}' "$1" 2>/dev/null; }
redis_us() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}'; }

capacity() {
  local fmt=$1 stream="bench:$1:capacity" log="$work/serve-$1-capacity.log" max=0 b r0
  cli FLUSHALL >/dev/null
  start_serve "$stream" "$COUNT" "$log"
  r0=$(redis_ticks)
  start_feed "$fmt" "$stream" "$COUNT" 0 0
  while kill -0 "$serve_pid" 2>/dev/null; do
    b=$(backlog "$stream")
    [ "$b" -gt "$max" ] && max=$b
    sleep 1
  done
  wait "$feed_pid"
  feed_pid=""
  wait "$serve_pid"
  serve_pid=""
  read -r ups p99 <<<"$(serve_figures "$log")"
  printf '%-8s capacity: %s updates fed unpaced at %s/s; serve %s updates/s, p99 read-to-ack %s ms; max backlog %s entries; CPU µs/update feed %s, serve %s, redis %s\n' \
    "$fmt" "$COUNT" "$(fed_rate)" "$ups" "$((p99 / 1000))" "$max" \
    "$(cpu_us "$work/feed.time" "$COUNT")" "$(cpu_us "$log.time" "$COUNT")" \
    "$(redis_us $(($(redis_ticks) - r0)) "$COUNT")"
  echo "$ups" >"$work/capacity-$fmt"
}

sustained() {
  local fmt=$1 rate=$2 stream="bench:$1:sustained" log="$work/serve-$1-sustained.log"
  local n=$((rate * SECS)) per samples=() b verdict r0 max=0
  per=$(per_entry "$fmt")
  cli FLUSHALL >/dev/null
  start_serve "$stream" "$n" "$log"
  r0=$(redis_ticks)
  # MAXLEN ~ 20000 keeps Redis' memory bounded (20,000 envelopes of 50 are ~650 MB).
  start_feed "$fmt" "$stream" "$n" "$rate" 20000
  verdict=""
  local started=$SECONDS
  while kill -0 "$feed_pid" 2>/dev/null; do
    sleep 1
    b=$(backlog "$stream")
    samples+=("$b")
    [ "$b" -gt "$max" ] && max=$b
    if [ "$((b * per))" -gt "$((rate * 3))" ]; then
      verdict="did NOT keep up: backlog passed 3 s of the offered rate after ${#samples[@]} s, run stopped"
      break
    fi
  done
  if [ -z "$verdict" ]; then
    wait "$feed_pid"
    feed_pid=""
    for _ in $(seq 5); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$serve_pid" 2>/dev/null; then
      verdict="did NOT keep up: $(backlog "$stream") entries still unacknowledged 5 s after the feed ended"
    else
      wait "$serve_pid"
      serve_pid=""
      read -r ups p99 <<<"$(serve_figures "$log")"
      verdict="kept up: serve $ups updates/s, p99 read-to-ack $((p99 / 1000)) ms"
    fi
  fi
  local fed cpu_feed cpu_serve added elapsed
  added=$(cli XINFO STREAM "$stream" | awk '/^entries-added$/{getline; v = $0} END {print v}')
  elapsed=$((SECONDS - started))
  stop "$feed_pid"
  feed_pid=""
  stop "$serve_pid"
  serve_pid=""
  # feed's own figure when it finished, else what reached the stream while it ran.
  fed=$(fed_rate)
  [ -n "$fed" ] || fed="~$((added * per / (elapsed > 0 ? elapsed : 1)))"
  cpu_feed=$(cpu_us "$work/feed.time" "$n")
  cpu_serve=$(cpu_us "$log.time" "$n")
  printf '%-8s sustained %s/s for %s s: %s; feed delivered %s/s; backlog each second (entries): %s (max %s = %s updates)' \
    "$fmt" "$rate" "$SECS" "$verdict" "${fed:-?}" "${samples[*]}" "$max" "$((max * per))"
  if [ -n "$cpu_serve" ]; then
    printf '; CPU µs/update feed %s, serve %s, redis %s' "$cpu_feed" "$cpu_serve" \
      "$(redis_us $(($(redis_ticks) - r0)) "$n")"
  fi
  printf '\n'
}

capacity original
capacity flat
awk -v o="$(cat "$work/capacity-original")" -v f="$(cat "$work/capacity-flat")" -v b="$BATCH" \
  'BEGIN { if (f > 0) printf "capacity ratio, envelopes of %d / flat: %.2fx\n", b, o / f }'
for rate in $RATES; do
  sustained original "$rate"
  sustained flat "$rate"
done
echo "# load average after: $(load)"
