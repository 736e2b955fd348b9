"""gunicorn settings shared by ``manage.py serve`` and the container image
(``gunicorn hermod_core.wsgi -c python:hermod_core.gunicorn_conf``).

Access lines go to stdout through ``RedactingLogger``: no token, Authorization header or
enrollment code is ever written, whatever ``access_log_format`` says.
"""

accesslog = "-"
logger_class = "hermod_core.access_log.RedactingLogger"
