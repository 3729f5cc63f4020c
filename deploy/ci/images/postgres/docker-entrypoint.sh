#!/bin/sh
# The part of the official image's entry point the project relies on: on the
# first start (empty PGDATA), create the cluster with POSTGRES_USER as its
# superuser and POSTGRES_PASSWORD as its password, allow password logins over
# the network and create POSTGRES_DB; then run the command.
set -eu

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?is required, as in the official image}"
    user=${POSTGRES_USER:-postgres}
    database=${POSTGRES_DB:-$user}
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    initdb --username="$user" --pwfile="$password_file" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    rm -f "$password_file"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != postgres ]; then
        # A private socket directory: pg_isready (the healthcheck) must not see
        # this temporary server as the database being ready.
        socket_dir=$(mktemp -d)
        pg_ctl --wait --silent \
            --options="-c listen_addresses='' -c unix_socket_directories=$socket_dir" \
            start
        createdb --host="$socket_dir" --username="$user" "$database"
        pg_ctl --wait --silent --mode=fast stop
        rmdir "$socket_dir"
    fi
fi

exec "$@"
