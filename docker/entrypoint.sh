#!/bin/sh
# The container's roles (docker/Dockerfile): the first argument picks one.
#   web        gunicorn on ${HERMOD_LISTEN:-0.0.0.0}:${PORT:-8000}, ${WEB_CONCURRENCY:-4} processes
#   worker     Celery worker, ${CELERY_CONCURRENCY:-4} threads
#   beat       Celery beat (exactly one per installation: it schedules the sweeps)
#   migrate    manage.py migrate, then exit
#   manage     manage.py with the remaining arguments (createsuperuser, hermod_client, ...)
#   healthcheck  the image's HEALTHCHECK, by the role this container runs: web /healthz, worker
#              a Celery ping of this worker, beat its schedule file, migrate nothing
# Anything else runs as given (sh, python, celery inspect ...).
set -e
role=${1:-web}
state=/tmp/hermod-role

wait_for_database() {
  # Compose starts migrate as soon as PostgreSQL's container runs (engines without health
  # conditions do not wait for it to accept connections): try for a minute.
  python - <<'PY'
import sys, time
import django
django.setup()
from django.db import connection
for attempt in range(60):
    try:
        connection.ensure_connection()
        sys.exit(0)
    except Exception as error:
        last = error
        time.sleep(1)
sys.exit(f"database unreachable for 60 s: {last}")
PY
}

case "$role" in
  web|worker|beat|migrate) echo "$role" > "$state" ;;
esac
case "$role" in
  web)
    shift
    exec gunicorn hermod_core.wsgi --config python:hermod_core.gunicorn_conf \
      --bind "${HERMOD_LISTEN:-0.0.0.0}:${PORT:-8000}" --workers "${WEB_CONCURRENCY:-4}" "$@" ;;
  worker)
    shift
    # Unique per container even when several share the host's name (host networking).
    name="worker-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')@$(hostname)"
    echo "$name" > /tmp/hermod-worker-name
    exec celery -A celery_app worker --loglevel "${HERMOD_LOG_LEVEL:-INFO}" \
      --concurrency "${CELERY_CONCURRENCY:-4}" -n "$name" "$@" ;;
  beat)
    shift
    exec celery -A celery_app beat --loglevel "${HERMOD_LOG_LEVEL:-INFO}" \
      --schedule "${HERMOD_VAR_DIR:-/var/lib/hermod}/celerybeat-schedule" "$@" ;;
  migrate)
    shift
    wait_for_database
    exec python manage.py migrate --noinput "$@" ;;
  manage)
    shift
    exec python manage.py "$@" ;;
  healthcheck)
    case "$(cat "$state" 2>/dev/null || echo web)" in
      worker)
        exec celery -A celery_app inspect ping --timeout 5 -d "$(cat /tmp/hermod-worker-name)" ;;
      beat)
        # The schedule's file name gets a suffix from the dbm module in use.
        ls "${HERMOD_VAR_DIR:-/var/lib/hermod}"/celerybeat-schedule* >/dev/null 2>&1; exit $? ;;
      migrate)
        exit 0 ;;
    esac
    # /healthz over http, or https when the image serves TLS itself (HERMOD_TLS_*_FILE).
    exec python -m hermod_core.healthcheck "${PORT:-8000}" ;;
  *)
    exec "$@" ;;
esac
