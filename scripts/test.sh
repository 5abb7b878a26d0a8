#!/usr/bin/env bash
# Runs pairwarm's whole test suite. Integration tests start their own redis-server and
# Prometheus on free loopback ports, so the binaries must be installed (they are not
# started here): redis-server, promtool and prometheus, from Debian's packages when missing
# and run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# install_debian PACKAGE BINARY: installs Debian's PACKAGE when BINARY is not on PATH and
# we are root with apt-get; otherwise says how and fails.
install_debian() {
  local package=$1 binary=$2
  type -P "$binary" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: $binary missing, installing Debian's $package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$package" >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$package" >/dev/null; }
    type -P "$binary" >/dev/null 2>&1 && return 0
  fi
  echo "test.sh: $binary is required by the integration tests." >&2
  echo "  Debian/Ubuntu: sudo apt-get install -y --no-install-recommends $package" >&2
  return 1
}

# Integration tests start their own redis-server (or REDIS_SERVER_BIN). The package may
# start a system instance on 6379; tests never use it.
if [ -z "${REDIS_SERVER_BIN:-}" ]; then
  install_debian redis-server redis-server || { echo "  macOS: brew install redis" >&2; exit 1; }
fi
# The Redis Cluster tests create their 3-master cluster with `redis-cli --cluster create`
# (Debian's redis-tools, which redis-server normally pulls in).
install_debian redis-tools redis-cli || exit 1
# The operations-kit tests run promtool (check/test rules, check metrics) and start a real
# Prometheus on a free loopback port; both come with Debian's `prometheus` package (which
# may start a system Prometheus on 9090; tests never use it).
install_debian prometheus promtool || exit 1
install_debian prometheus prometheus || exit 1
# The serve tests signal their child with the system's `kill` (procps; minimal Debian images
# lack it, and the shell's builtin does not count: `type -P` looks at PATH only).
install_debian procps kill || exit 1

cargo test --workspace --all-targets "$@"
# Examples in the docs are tests too (`--all-targets` does not run them).
cargo test --workspace --doc "$@"
