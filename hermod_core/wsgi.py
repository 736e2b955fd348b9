"""WSGI entry point (gunicorn hermod_core.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hermod_core.settings")

application = get_wsgi_application()
