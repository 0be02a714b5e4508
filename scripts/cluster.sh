#!/usr/bin/env bash
# A local hospital network of cells in one command (docs/scale-out.md):
# PostgreSQL, two cells with a primary and a standby each, the hub, HAProxy
# in front and simulated devices across them, all on loopback. Kill -9 a
# primary's PID (printed) and watch its devices move to the standby, nothing
# lost; or run `scripts/cluster.sh --demo`, which does it by itself and
# checks. Ctrl-C stops everything. Needs the build (and root, as the tests:
# PostgreSQL runs as postgres, Mosquitto drops to mosquitto).
#   scripts/cluster.sh [--devices N] [--rate HZ] [--demo]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/vitalgate.so ] && [ ! -f build/vitalgate.so ] || [ ! -x build/vitalgate-admin ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)"
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
exec node tools/cluster.mjs "$@"
