#!/usr/bin/env bash
# Creates a development CA and the certificates the compose stack uses, in
# compose/certs/ (git-ignored), with openssl only:
#
#   ca.crt ca.key                  the development CA (trust ca.crt in your browser
#                                  to open the station page without warnings)
#   mosquitto.crt .key             the broker: mTLS device listener (8883) and wss:// (9443)
#   postgres.crt .key              PostgreSQL (ssl=on; Vitalgate connects with sslmode=verify-full)
#   core.crt .key                  the sample Node.js core (the https:// webhook endpoint)
#   station.crt .key               the station page (https://)
#   device-<id>.crt .key           one bedside device's client certificate (CN = its identity)
#
#   compose/make-dev-certs.sh [--device ID] [--host NAME]... [--force] [--new-ca]
#
#   --device ID   the sample device's identity (default mon-3w-01)
#   --host NAME   another DNS name or IP address for the broker's and the station
#                 page's certificates, besides localhost and 127.0.0.1 (the name devices
#                 and browsers on your network use); repeatable
#   --force       issue the certificates again (after adding a --host), with the
#                 existing CA; otherwise existing files are kept, so the script is
#                 safe to run again
#   --new-ca      a new CA too, and so every certificate (browsers must trust the
#                 new ca.crt)
#
# For development and evaluation only: a real deployment uses the hospital's PKI.
set -euo pipefail
cd "$(dirname "$0")"

device=mon-3w-01
hosts=()
force=0
new_ca=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=${2:?--device needs an identity}; shift 2 ;;
    --host) hosts+=("${2:?--host needs a name}"); shift 2 ;;
    --force) force=1; shift ;;
    --new-ca) new_ca=1; force=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-dev-certs: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $device =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  echo "make-dev-certs: --device $device: identities match [A-Za-z0-9_-]{1,64}" >&2
  exit 2
fi

dir=certs
umask 077
mkdir -p "$dir"
chmod 700 "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# alt_names <dns-or-ip>...: a subjectAltName value.
alt_names() {
  local out="" n
  for n in "$@"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then out+="${out:+,}IP:$n"; else out+="${out:+,}DNS:$n"; fi
  done
  printf '%s' "$out"
}

new_key() { # <file>: an ECDSA P-256 key, mode 0600
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

if [ "$new_ca" = 1 ] || [ ! -f "$dir/ca.crt" ] || [ ! -f "$dir/ca.key" ]; then
  new_key "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/O=Vitalgate development/CN=Vitalgate development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$dir/ca.crt"
  chmod 644 "$dir/ca.crt"
  force=1   # a new CA: every certificate below must be signed again
  echo "make-dev-certs: created $dir/ca.crt (the development CA)" >&2
fi

# issue <name> <CN> <serverAuth|clientAuth> [<subjectAltName>]
# Keeps a certificate that exists and verifies against the current CA.
issue() {
  local name=$1 cn=$2 usage=$3 san=${4:-}
  if [ "$force" != 1 ] && [ -f "$dir/$name.crt" ] && [ -f "$dir/$name.key" ] \
     && openssl verify -CAfile "$dir/ca.crt" "$dir/$name.crt" >/dev/null 2>&1; then
    echo "make-dev-certs: keeping $dir/$name.crt" >&2
    return
  fi
  new_key "$dir/$name.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$usage"
    echo "authorityKeyIdentifier=keyid"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } >"$tmp/ext"
  openssl req -new -key "$dir/$name.key" -subj "/O=Vitalgate development/CN=$cn" -out "$tmp/$name.csr"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 365 -sha256 -extfile "$tmp/ext" -out "$dir/$name.crt" 2>/dev/null
  chmod 644 "$dir/$name.crt"
  echo "make-dev-certs: created $dir/$name.crt ($cn${san:+, $san})" >&2
}

# Service names are the compose service names: that is the host name each
# client verifies (sslmode=verify-full, libcurl's host check).
issue mosquitto mosquitto serverAuth "$(alt_names mosquitto localhost 127.0.0.1 ${hosts[@]+"${hosts[@]}"})"
issue postgres postgres serverAuth "$(alt_names postgres)"
issue core core serverAuth "$(alt_names core)"
issue station station serverAuth "$(alt_names station localhost 127.0.0.1 ${hosts[@]+"${hosts[@]}"})"
# The broker takes a device certificate's CN as the device's identity. With
# --force, devices made by earlier runs (--device) are issued again as well.
issue "device-$device" "$device" clientAuth
for f in "$dir"/device-*.crt; do
  id=${f#"$dir/device-"}
  id=${id%.crt}
  [ "$id" = "$device" ] || issue "device-$id" "$id" clientAuth
done

for f in "$dir"/mosquitto.crt "$dir"/postgres.crt "$dir"/core.crt "$dir"/station.crt "$dir"/device-*.crt; do
  openssl verify -CAfile "$dir/ca.crt" "$f" >/dev/null
done
echo "make-dev-certs: certificates in $(pwd)/$dir (keys are mode 0600; never commit them)" >&2
