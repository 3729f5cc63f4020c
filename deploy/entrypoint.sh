#!/bin/sh
# Container entry point for web, worker and beat (one image, see deploy/Dockerfile).
#
#   entrypoint.sh [--migrate] [--collectstatic] [--seed] COMMAND...
#
# Waits until the database answers, then, in the order given: --migrate applies
# migrations, --collectstatic collects static files into STATIC_ROOT (under
# DATA_DIR), --seed queues the public demo model (manage.py seed_demo, which does
# nothing once it exists); then execs COMMAND. Only the web service passes the
# flags, so the schema is migrated once per deploy, not by every worker.
set -eu

DB_WAIT_SECONDS="${DB_WAIT_SECONDS:-60}"

python - "$DB_WAIT_SECONDS" <<'PY'
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django.setup()
from django.db import connection
from django.db.utils import OperationalError

deadline = time.monotonic() + float(sys.argv[1])
while True:
    try:
        connection.ensure_connection()
        break
    except OperationalError as error:
        if time.monotonic() > deadline:
            sys.exit(f"entrypoint: database not reachable: {error}")
        print("entrypoint: waiting for the database", file=sys.stderr)
        time.sleep(1)
PY

while [ $# -gt 0 ]; do
    case "$1" in
        --migrate) python manage.py migrate --noinput; shift ;;
        --collectstatic) python manage.py collectstatic --noinput -v0; shift ;;
        --seed) python manage.py seed_demo; shift ;;
        *) break ;;
    esac
done

if [ $# -eq 0 ]; then
    echo "entrypoint: no command given" >&2
    exit 2
fi
exec "$@"
