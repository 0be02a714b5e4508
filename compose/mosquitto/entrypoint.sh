#!/bin/sh
# Entry point of the Vitalgate broker image (compose/Dockerfile), as root.
# The compose secrets in /run/secrets/ are bind mounts owned by whoever made
# them on the host, but Mosquitto drops to the mosquitto user before it
# loads the plugin and its TLS files. So this copies what the broker and the
# plugin read to /run/vitalgate/, owned by mosquitto, mode 0600, turns the
# database password into a libpq passfile (the password never appears in a
# configuration file or the environment), makes the spool volume the
# mosquitto user's, then runs the command: mosquitto (which drops privileges
# itself) or anything else (vitalgate-admin ...) as the mosquitto user.
set -eu
src=/run/secrets
dst=/run/vitalgate

install -d -o mosquitto -g mosquitto -m 0700 "$dst"
for f in ca.crt mosquitto.crt mosquitto.key webhook-secrets; do
	if [ -f "$src/$f" ]; then
		install -o mosquitto -g mosquitto -m 0600 "$src/$f" "$dst/$f"
	fi
done
if [ -f "$src/db-password" ]; then
	# pgpass escapes ':' and '\'; $(cat) drops the trailing newline.
	pw=$(cat "$src/db-password")
	pw=$(printf '%s' "$pw" | sed 's/[\\:]/\\&/g')
	(umask 077 && printf '*:*:*:vitalgate:%s\n' "$pw" >"$dst/pgpass")
	chown mosquitto:mosquitto "$dst/pgpass"
fi
chown mosquitto:mosquitto /var/lib/vitalgate
chmod 0700 /var/lib/vitalgate

# Neither Mosquitto nor setpriv changes HOME, and libpq looks for a client
# certificate in ~/.postgresql/: under /root that is "Permission denied",
# which libpq treats as an error, not as "no certificate".
HOME=$(getent passwd mosquitto | cut -d: -f6)
export HOME

if [ "${1:-}" = mosquitto ]; then
	exec "$@"
fi
exec setpriv --reuid=mosquitto --regid=mosquitto --init-groups "$@"
