#!/usr/bin/env bash
# Smoke check for vgload against a throwaway bare Mosquitto.
#   bench/smoke-vgload.sh [path/to/vgload]      (default: build/bench/vgload)
# Starts mosquitto (anonymous, 127.0.0.1, a random free port in 20000-60000,
# config in a mktemp dir, log_dest none), runs 50 anonymous devices connecting
# all at once + 5 s of traffic at 10 Hz QoS 1 + 2 stations on vitals/#, and
# checks the JSON summary. The broker is killed by PID on exit, whatever
# happens (and runs under timeout(1) as a last resort).
# Exit 0: pass; 1: a check failed; 77: mosquitto is not installed (ctest
# reports the test as skipped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
vgload=${1:-${VGLOAD:-$here/../build/bench/vgload}}
mosquitto=${MOSQUITTO:-/usr/sbin/mosquitto}

fail() { echo "smoke-vgload: FAIL: $*" >&2; exit 1; }

[ -x "$vgload" ] || fail "no vgload at $vgload (build it, or pass its path)"
if [ ! -x "$mosquitto" ]; then
  echo "smoke-vgload: SKIP: $mosquitto not found" >&2
  exit 77
fi

dir=$(mktemp -d)
chmod 755 "$dir"              # mosquitto may drop to its own user
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE   # exit through the EXIT trap

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Pick a port, start the broker, and wait until it accepts connections; on a
# clash (someone else's listener, or the bind failing) try another port.
port=""
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
  port_busy "$p" && continue
  cat > "$dir/mosquitto.conf" <<EOF
listener $p 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
log_dest none
EOF
  # Under timeout(1): even if this script is SIGKILLed (a ctest timeout), the
  # broker stops by itself. Killing broker_pid relays SIGTERM to mosquitto.
  timeout 110 "$mosquitto" -c "$dir/mosquitto.conf" 2> "$dir/mosquitto.err" &
  broker_pid=$!
  for _ in $(seq 1 50); do
    kill -0 "$broker_pid" 2>/dev/null || break
    if port_busy "$p"; then port=$p; break; fi
    sleep 0.1
  done
  if [ -n "$port" ] && kill -0 "$broker_pid" 2>/dev/null; then
    break
  fi
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
  port=""
  echo "smoke-vgload: broker did not start on port $p (attempt $attempt): $(head -c 300 "$dir/mosquitto.err")" >&2
done
[ -n "$port" ] || fail "could not start mosquitto"
echo "smoke-vgload: mosquitto pid $broker_pid on 127.0.0.1:$port" >&2

set +e
json=$(timeout 90 "$vgload" --port "$port" --anonymous --clients 50 --connect-rate 0 \
  --connect-timeout 20 --duration 5 --rate 10 --qos 1 --alert-fraction 0.1 \
  --stations 2 --station-qos 1 --station-topic 'vitals/#')
rc=$?
set -e
echo "$json"
[ "$rc" -eq 0 ] || fail "vgload exited with status $rc"
[ "$(printf '%s\n' "$json" | wc -l)" -eq 1 ] || fail "expected one line of JSON on stdout"

# Numeric field from the one-line JSON (keys are unique: "deliveries" does not
# match "alert_deliveries" because of the leading quote).
field() {
  local v
  v=$(printf '%s' "$json" | sed -n "s/.*\"$1\":\([0-9.]*\)[,}].*/\1/p")
  [ -n "$v" ] || fail "field $1 missing from the JSON"
  printf '%s' "$v"
}

errors=0
check() { # <field> <op> <value>
  local v
  v=$(field "$1")
  if ! [ "${v%%.*}" "$2" "$3" ]; then
    echo "smoke-vgload: FAIL: $1 = $v, expected $2 $3" >&2
    errors=$((errors + 1))
  else
    echo "smoke-vgload: ok: $1 = $v ($2 $3)" >&2
  fi
}
check connack_ok -eq 50
check puback_ok -gt 0
check puback_refused -eq 0
check deliveries -gt 0
check protocol_errors -eq 0
case "$json" in
  *'"aborted":false'*) ;;
  *) echo "smoke-vgload: FAIL: the run was aborted" >&2; errors=$((errors + 1)) ;;
esac
[ "$errors" -eq 0 ] || fail "$errors check(s) failed"
echo "smoke-vgload: PASS" >&2
