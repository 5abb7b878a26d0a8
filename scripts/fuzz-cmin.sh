#!/usr/bin/env bash
# Shrinks each target's corpus with `cargo fuzz cmin` and stores it in the committed
# fuzz/corpora/<t>/, which the test suite replays (crates/pairwarm-fuzz-checks/tests/corpora.rs)
# and scripts/fuzz.sh seeds from.
#
#   scripts/fuzz-cmin.sh [TARGET...]     # default: every target of `cargo fuzz list`
#
# The working corpus fuzz/corpus/<t> (what scripts/fuzz.sh found) and the committed one are
# merged, minimised (the fewest files that keep libFuzzer's coverage), and files above
# MAX_FILE_BYTES (64 KiB) are dropped so the repository stays small; the default -max_len
# of a run is 4 KiB, so such files come only from seeds, which are kept in fuzz/seeds/.
set -euo pipefail
cd "$(dirname "$0")/.."

max_file_bytes=${MAX_FILE_BYTES:-65536}
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

mkdir -p fuzz/logs
printf '%-18s %8s %8s %10s\n' target before after bytes
for t in "${targets[@]}"; do
  work="fuzz/corpus/$t"
  mkdir -p "$work"
  if [ -d "fuzz/corpora/$t" ]; then
    cp -n "fuzz/corpora/$t"/* "$work"/ 2>/dev/null || true
  fi
  before=$(find "$work" -type f | wc -l)
  cargo fuzz cmin -s none "$t" "$work" >"fuzz/logs/cmin-$t.log" 2>&1 \
    || { echo "fuzz-cmin.sh: cmin of $t failed, see fuzz/logs/cmin-$t.log" >&2; exit 1; }
  find "$work" -type f -size +"${max_file_bytes}"c -print -delete | sed 's/^/  dropped (too large): /' >&2
  rm -rf "fuzz/corpora/$t"
  mkdir -p "fuzz/corpora/$t"
  cp "$work"/* "fuzz/corpora/$t"/
  after=$(find "fuzz/corpora/$t" -type f | wc -l)
  bytes=$(find "fuzz/corpora/$t" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
  printf '%-18s %8s %8s %10s\n' "$t" "$before" "$after" "$bytes"
done
