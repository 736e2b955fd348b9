"""gunicorn settings shared by ``manage.py serve`` and the container image
(``gunicorn hermod_core.wsgi -c python:hermod_core.gunicorn_conf``).

Access lines go to stdout through ``RedactingLogger``: no token, Authorization header or
enrollment code is ever written, whatever ``access_log_format`` says.

With ``HERMOD_TLS_CERT_FILE`` + ``HERMOD_TLS_KEY_FILE`` (PEM) or ``HERMOD_TLS_P12_FILE`` +
``HERMOD_TLS_P12_PASSWORD`` (PKCS#12, the real product's ``server.ssl.key-store``) gunicorn
serves HTTPS itself (``hermod_core.tls``): the key is loaded here, once, in the master, so a
wrong password or a key that does not match stops start-up with a message naming the variable.
"""

import os
import ssl
from typing import Any

from hermod_core.tls import server_context, tls_from_env

accesslog = "-"
logger_class = "hermod_core.access_log.RedactingLogger"
# No peer may set the request's scheme through gunicorn (X-Forwarded-Proto and its other
# secure_scheme_headers): Django alone decides, believing X-Forwarded-Proto only from
# HERMOD_TRUSTED_PROXIES (hermod_core.proxies, SECURE_PROXY_SSL_HEADER). gunicorn's default trusts
# every loopback peer, so a client's own header made plain HTTP look like HTTPS to Django, behind
# TrustedProxyMiddleware's back (tests/hardening/test_attacker_stack.py).
forwarded_allow_ips = ""

_tls = tls_from_env(os.environ)
if _tls is not None:
    _context = server_context(_tls)
    # gunicorn serves TLS when certfile is set (and checks that it exists); the context below
    # is what it uses.
    certfile = str(_tls.main_file)

    def ssl_context(config: Any, default_ssl_context_factory: Any) -> ssl.SSLContext:
        return _context
