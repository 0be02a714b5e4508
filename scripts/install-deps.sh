#!/usr/bin/env bash
# Installs everything Vitalgate needs to build, run and test on Debian 12:
# Debian packages (apt-get) and the Node.js packages of this repository
# (npm ci, from package-lock.json). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PKGS=(
  # build
  build-essential cmake pkg-config ca-certificates git
  # the broker and the plugin's libraries
  mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
  libpq-dev libmsgpack-dev libcurl4-openssl-dev libssl-dev
  # the database (tests start throwaway clusters with its binaries)
  postgresql-15 postgresql-client-15
  # tests: sanitizer runtimes, the fuzzer, setpriv; the station page's browser test
  clang libclang-rt-14-dev util-linux procps openssl chromium fonts-dejavu-core
  # CI checks compose/docker-compose.yml with `docker-compose config` (no engine needed)
  docker-compose
  # HAProxy 2.6 in front of cells (e2e_haproxy, bench/haproxy.mjs start their own processes;
  # the package's own service is not used)
  haproxy
)
if ! command -v node >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi

echo "install-deps: apt-get install ${PKGS[*]}" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${PKGS[@]}"

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install-deps: warning: Node.js $(node --version) found; Vitalgate is tested with Node.js 20" >&2
fi
npm ci --no-audit --no-fund --loglevel=error
