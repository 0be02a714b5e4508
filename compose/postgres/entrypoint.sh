#!/bin/sh
# Wraps the postgres image's entry point (as root): PostgreSQL refuses a
# server key that is not owned by it (or root) and private, and the compose
# secrets are bind mounts owned by whoever made them on the host. So this
# copies the server's certificate and key to /run/postgresql-tls/, owned by
# postgres, mode 0600, then hands over to docker-entrypoint.sh, which creates
# the cluster on first start and runs postgres with the arguments given
# (compose/docker-compose.yml: ssl=on, these files, compose/postgres/pg_hba.conf).
set -eu
dst=/run/postgresql-tls
install -d -o postgres -g postgres -m 0700 "$dst"
install -o postgres -g postgres -m 0600 /run/secrets/postgres.crt "$dst/server.crt"
install -o postgres -g postgres -m 0600 /run/secrets/postgres.key "$dst/server.key"
exec docker-entrypoint.sh "$@"
