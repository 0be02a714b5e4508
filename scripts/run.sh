#!/usr/bin/env bash
# Installs every dependency, builds, and runs Vitalgate locally: a
# PostgreSQL cluster in a data folder of its own, the sample Node.js core,
# Mosquitto with the plugin, and a few simulated bedside devices streaming
# vitals (one of them develops tachycardia, so an alert fires and resolves).
# Ctrl-C stops everything. State lives in $VG_RUN_DIR (default
# /var/tmp/vitalgate-run) and is reused by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
exec node tools/devstack.mjs "$@"
