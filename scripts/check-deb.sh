#!/usr/bin/env bash
# Checks the Debian package cpack built (CMakeLists.txt, "packaging"): the
# files it must install, the ones it must not, and its control fields.
# Names every problem on stderr and exits 1 if there is any.
#
#   scripts/check-deb.sh build/package/vitalgate_0.1.0-1_amd64.deb
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:?usage: scripts/check-deb.sh <package.deb>}
[ -f "$deb" ] || { echo "check-deb: $deb: no such file" >&2; exit 1; }

multiarch=$(gcc -print-multiarch)
contents=$(dpkg-deb -c "$deb" | awk '{ print $1, $NF }')   # "<mode> ./path"
fails=0
fail() { echo "check-deb: $deb: $*" >&2; fails=$((fails + 1)); }

expect() { # <mode regex> <path in the package>
  grep -qE "^$1 \\./${2#/}\$" <<<"$contents" || fail "missing $2 (mode $1)"
}

# The plugin beside Debian's own mosquitto plugins, the CLI on the PATH.
expect '-rw-r--r--' "/usr/lib/$multiarch/vitalgate.so"
expect '-rwxr-xr-x' /usr/bin/vitalgate-admin
# Every migration of the source tree (vitalgate-admin embeds them; the
# package ships them for reading and for other tools), and the vitals schema.
for f in schemas/sql/[0-9][0-9][0-9]_*.sql; do
  expect '-rw-r--r--' "/usr/share/vitalgate/sql/${f##*/}"
done
expect '-rw-r--r--' /usr/share/vitalgate/vitals/v1.json
expect '-rw-r--r--' /usr/share/vitalgate/vitalgate.conf.example
# Docs.
expect '-rw-r--r--' /usr/share/doc/vitalgate/README.md
for f in docs/*.md; do
  expect '-rw-r--r--' "/usr/share/doc/vitalgate/docs/${f##*/}"
done

# Mosquitto reads every *.conf of /etc/mosquitto/conf.d/: a package that put
# one there would load the plugin, and the broker would not start without a
# database. The example must stay an example.
active=$(grep -E '^[^d][^ ]* \./etc/mosquitto/.*\.conf$' <<<"$contents" | cut -d' ' -f2- | tr '\n' ' ' || true)
[ -z "$active" ] || fail "installs Mosquitto configuration that would load the plugin: $active"

# Control fields.
[ "$(dpkg-deb -f "$deb" Package)" = vitalgate ] || fail "Package is not 'vitalgate'"
version=$(sed -nE 's/^project\(vitalgate VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
case "$(dpkg-deb -f "$deb" Version)" in
  "$version"-*) ;;
  *) fail "Version $(dpkg-deb -f "$deb" Version) is not the project's $version" ;;
esac
depends=$(dpkg-deb -f "$deb" Depends)
for p in mosquitto libpq5 libmsgpackc2 libcurl4 libssl3; do
  grep -qE "(^|, )$p( |,|$)" <<<"$depends" || fail "Depends lacks $p (Depends: $depends)"
done
grep -qE '(^|, )mosquitto \(>= 2\.0\)' <<<"$depends" || fail "Depends lacks 'mosquitto (>= 2.0)' (plugin API v5)"
dpkg-deb -I "$deb" postinst >/dev/null 2>&1 || fail "has no postinst (creates /var/lib/vitalgate)"

# The plugin in the package is a Mosquitto plugin: its entry points are exported.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
so="$tmp/usr/lib/$multiarch/vitalgate.so"
if [ -f "$so" ]; then
  for sym in mosquitto_plugin_version mosquitto_plugin_init mosquitto_plugin_cleanup; do
    nm -D --defined-only "$so" | grep -qw "$sym" || fail "vitalgate.so does not export $sym"
  done
fi

if [ "$fails" -ne 0 ]; then
  echo "check-deb: $fails problem(s); see CMakeLists.txt (packaging) and the install() rules" >&2
  exit 1
fi
echo "check-deb: $deb: ok ($(grep -c '^-' <<<"$contents") files, Depends: $depends)" >&2
