"""WSGI entry point (gunicorn hermod_core.wsgi)."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from hermod_core.env import EnvError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hermod_core.settings")

try:
    application = get_wsgi_application()
except EnvError as exc:
    # One line naming the variable, as manage.py prints it; exit status 4 is gunicorn's "the
    # application failed to load", which stops the server instead of restarting workers.
    sys.stderr.write(f"configuration error: {exc}\n")
    sys.exit(4)
