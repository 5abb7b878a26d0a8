#!/usr/bin/env bash
# Runs pairwarm's whole test suite. Integration tests start their own redis-server on a
# free loopback port, so the binary must be installed (it is not started here).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: redis-server missing, installing Debian's redis-server" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends redis-server >/dev/null; }
    # The package may start a system instance on 6379; tests never use it.
  else
    echo "test.sh: redis-server is required by the integration tests." >&2
    echo "  Debian/Ubuntu: sudo apt-get install -y redis-server" >&2
    echo "  macOS:         brew install redis" >&2
    echo "  or set REDIS_SERVER_BIN to a redis-server binary." >&2
    exit 1
  fi
fi

cargo test --workspace --all-targets "$@"
# Examples in the docs are tests too (`--all-targets` does not run them).
cargo test --workspace --doc "$@"
