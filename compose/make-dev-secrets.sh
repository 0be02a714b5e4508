#!/usr/bin/env bash
# Creates the compose stack's secrets in compose/secrets/ (git-ignored),
# with openssl only, mode 0600:
#
#   db-password       the PostgreSQL password of the `vitalgate` role (the postgres
#                     service sets it when it first creates its data volume)
#   webhook-secrets   the broker's plugin_opt_webhook_secret_file, which the sample
#                     core reads too: one whsec_ secret (whsec_ + base64 of 32 random bytes)
#
#   compose/make-dev-secrets.sh [--force]
#
# Existing files are kept unless --force. Changing db-password after the
# database volume exists does not change the role's password: ALTER ROLE it too
# (compose/README.md). Rotating the webhook secret: compose/README.md.
set -euo pipefail
cd "$(dirname "$0")"

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "make-dev-secrets: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

dir=secrets
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

# write <file> <content>: atomically, mode 0600, unless it exists.
write() {
  if [ "$force" != 1 ] && [ -s "$dir/$1" ]; then
    echo "make-dev-secrets: keeping $dir/$1" >&2
    return
  fi
  printf '%s\n' "$2" >"$dir/.$1.tmp"
  mv -f "$dir/.$1.tmp" "$dir/$1"
  echo "make-dev-secrets: created $dir/$1" >&2
}

# base64url without padding: no ':' or '\' (pgpass syntax), nothing a shell or
# a connection string would need quoted.
write db-password "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
write webhook-secrets "whsec_$(openssl rand -base64 32 | tr -d '\n')"
echo "make-dev-secrets: secrets in $(pwd)/$dir (never commit them)" >&2
