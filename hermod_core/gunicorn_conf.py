"""gunicorn settings shared by ``manage.py serve`` and the container image
(``gunicorn hermod_core.wsgi -c python:hermod_core.gunicorn_conf``).

Access lines go to stdout through ``RedactingLogger``: no token, Authorization header or
enrollment code is ever written, whatever ``access_log_format`` says.
"""

accesslog = "-"
logger_class = "hermod_core.access_log.RedactingLogger"
# No peer may set the request's scheme through gunicorn (X-Forwarded-Proto and its other
# secure_scheme_headers): Django alone decides, believing X-Forwarded-Proto only from
# HERMOD_TRUSTED_PROXIES (hermod_core.proxies, SECURE_PROXY_SSL_HEADER). gunicorn's default trusts
# every loopback peer, so a client's own header made plain HTTP look like HTTPS to Django, behind
# TrustedProxyMiddleware's back (tests/hardening/test_attacker_stack.py).
forwarded_allow_ips = ""
