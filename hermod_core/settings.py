"""Django settings, read only from the environment (see README "Configuration").

With nothing configured the server runs on embedded defaults: SQLite in ``var/`` and kombu's
filesystem transport as the broker, so ``make run`` needs no other server.
"""

import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hermod_core.env import (
    EnvError,
    env_bool,
    env_database,
    env_http_url,
    env_int,
    env_list,
    env_networks,
    env_path,
    env_secret,
    env_str,
    env_str_or_none,
    secret_weakness,
)
from hermod_core.tls import tls_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HERMOD_VAR_DIR", str(BASE_DIR / "var")))
VERSION = "0.1.0"


def _kept_in_var(name: str, nbytes: int) -> str:
    """A random secret kept in ``var/<name>`` (mode 0600), made on first use: the development
    default of a secret that is not set, so that ``make run`` needs no configuration and the value
    survives a restart (sessions stay valid; a scraper can read the metrics token there)."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(nbytes), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


DEBUG = env_bool("DJANGO_DEBUG", False)
# Unset: a random key kept in var/ (make run). Set: with DEBUG off it must be a real secret.
SECRET_KEY = env_secret(
    "DJANGO_SECRET_KEY", lambda: _kept_in_var("secret-key", 50), strict=not DEBUG
)
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

# --- Hermod (docs/PROTOCOL.md)
# ---------------------------------------------------------------------
HERMOD_API_PREFIX = env_str("HERMOD_API_PREFIX", "hermod/rest").strip("/")
# TLS served by gunicorn itself (hermod_core.tls): checked here so that a half-given pair or an
# unreadable file stops start-up naming the variable.
HERMOD_TLS_FILES = tls_from_env(os.environ)
HERMOD_PUBLIC_URL = env_http_url(
    "HERMOD_PUBLIC_URL",
    f"{'https' if HERMOD_TLS_FILES else 'http'}://127.0.0.1:{PORT}/{HERMOD_API_PREFIX}/ms",
)
HERMOD_FQDN = urlsplit(HERMOD_PUBLIC_URL).hostname or ""
# Key of the keyed hash that stores API keys and device tokens, and of the sealed copies of
# one-time tokens (services.credentials); rotating it invalidates every stored key and token.
# Unset, it falls back to SECRET_KEY (installs that relied on that keep their keys).
HERMOD_KEY_HASH_SECRET = env_secret("HERMOD_KEY_HASH_SECRET", lambda: SECRET_KEY, strict=not DEBUG)
# Enrollment invitations: how long a link stays valid unless the admin chooses otherwise for
# one request (its QR code, created when the link is opened, lives the request's lifespan).
HERMOD_INVITATION_LIFETIME_HOURS = env_int(
    "HERMOD_INVITATION_LIFETIME_HOURS", 72, minimum=1, maximum=24 * 90
)
HERMOD_CALLBACK_ATTEMPTS = env_int("HERMOD_CALLBACK_ATTEMPTS", 5, minimum=1, maximum=100)
HERMOD_CALLBACK_RETRY_DELAY = env_int("HERMOD_CALLBACK_RETRY_DELAY", 30, minimum=1, maximum=86400)
HERMOD_CALLBACK_BACKOFF = env_bool("HERMOD_CALLBACK_BACKOFF", True)
HERMOD_CALLBACK_TIMEOUT = env_int("HERMOD_CALLBACK_TIMEOUT", 10, minimum=1, maximum=300)
HERMOD_CALLBACK_CA_DIR = env_path("HERMOD_CALLBACK_CA_DIR", None)
# Push (docs/PROTOCOL.md §14, docs/push.md): attempts per message and the first retry delay (doubled
# after each failure), seconds per attempt; TLS trust is the callbacks'. A push is worth little
# once the message is old, so fewer, quicker attempts than callbacks.
HERMOD_PUSH_ATTEMPTS = env_int("HERMOD_PUSH_ATTEMPTS", 5, minimum=1, maximum=50)
HERMOD_PUSH_RETRY_DELAY = env_int("HERMOD_PUSH_RETRY_DELAY", 2, minimum=1, maximum=3600)
HERMOD_PUSH_TIMEOUT = env_int("HERMOD_PUSH_TIMEOUT", 10, minimum=1, maximum=120)
# Where FCM and APNs are reached (an egress proxy, a test endpoint); the vendors' by default.
# APNs: production, or Apple's sandbox for a group marked sandbox, unless this is set.
HERMOD_PUSH_FCM_URL = env_http_url("HERMOD_PUSH_FCM_URL", "https://fcm.googleapis.com")
HERMOD_PUSH_APNS_URL = env_str("HERMOD_PUSH_APNS_URL", "").rstrip("/")
# A device chooses its Web Push endpoint: https only, unless a local distributor needs http.
HERMOD_PUSH_ALLOW_HTTP = env_bool("HERMOD_PUSH_ALLOW_HTTP", False)
# Content providers (docs/PROTOCOL.md §13): attempts per command and the first retry delay (doubled
# after each failure); timeout and TLS trust are the callbacks'.
HERMOD_CONTENT_ATTEMPTS = env_int("HERMOD_CONTENT_ATTEMPTS", 3, minimum=1, maximum=20)
HERMOD_CONTENT_RETRY_DELAY = env_int("HERMOD_CONTENT_RETRY_DELAY", 2, minimum=1, maximum=300)
HERMOD_MAX_BODY_BYTES = env_int("HERMOD_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
HERMOD_MAX_IN_PROGRESS = env_int("HERMOD_MAX_IN_PROGRESS", 10_000, minimum=1)
# Rate limits (0 disables one): per API key and per box token per window, and per source
# address for failed authentications and unknown boxes/tokens (brute force and token guessing).
HERMOD_RATE_LIMIT_WINDOW = env_int("HERMOD_RATE_LIMIT_WINDOW", 60, minimum=1, maximum=3600)
HERMOD_RATE_LIMIT_CLIENT = env_int("HERMOD_RATE_LIMIT_CLIENT", 60_000, minimum=0)
HERMOD_RATE_LIMIT_BOX = env_int("HERMOD_RATE_LIMIT_BOX", 600, minimum=0)
HERMOD_RATE_LIMIT_AUTH_FAILURES = env_int("HERMOD_RATE_LIMIT_AUTH_FAILURES", 20, minimum=0)
HERMOD_RATE_LIMIT_NOT_FOUND = env_int("HERMOD_RATE_LIMIT_NOT_FOUND", 60, minimum=0)
# Bearer token for /metrics. Not set: a random one kept in var/metrics-token. Set but empty:
# /metrics is open, which only DJANGO_DEBUG allows (anyone could read the server's activity).
_metrics_token = env_str_or_none("HERMOD_METRICS_TOKEN")
if _metrics_token == "" and not DEBUG:
    raise EnvError(
        "HERMOD_METRICS_TOKEN",
        "must not be empty unless DJANGO_DEBUG is on (/metrics would be open to anyone); "
        "set a token, or unset it to use the one kept in HERMOD_VAR_DIR/metrics-token",
    )
if _metrics_token and not DEBUG and (_weakness := secret_weakness(_metrics_token)):
    raise EnvError("HERMOD_METRICS_TOKEN", _weakness)
HERMOD_METRICS_TOKEN = (
    _kept_in_var("metrics-token", 32) if _metrics_token is None else _metrics_token
)
# URL scheme of the same-device link to the mobile app (result bodies' ``appLink``): ``personal``
# for the standard app, the app's own scheme for a branded one.
HERMOD_APP_LINK_SCHEME = env_str("HERMOD_APP_LINK_SCHEME", "personal").lower()
if not re.fullmatch(
    r"[a-z][a-z0-9+.-]{0,62}", HERMOD_APP_LINK_SCHEME
) or HERMOD_APP_LINK_SCHEME in {
    "http",
    "https",
}:
    raise EnvError(
        "HERMOD_APP_LINK_SCHEME", "must be a URL scheme such as personal (letters, digits, +.-)"
    )
HERMOD_SWEEP_INTERVAL = env_int("HERMOD_SWEEP_INTERVAL", 2, minimum=1, maximum=60)
HERMOD_SWEEP_BATCH = env_int("HERMOD_SWEEP_BATCH", 500, minimum=1, maximum=100_000)

# --- Django -----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "django.contrib.sites",  # allauth.socialaccount's models refer to it; SITE_ID below
    "hermod_core",
    "portal",
]

MIDDLEWARE = [
    # First: no later middleware or view may read a proxy header an untrusted peer wrote.
    "hermod_core.proxies.TrustedProxyMiddleware",
    "hermod_core.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hermod_core.api.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After authentication: an account without a required second factor goes to set one up.
    "portal.middleware.SecondFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "hermod_core.urls"
WSGI_APPLICATION = "hermod_core.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database = env_database(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'hermod.sqlite3'}",
    prepared_statements=env_bool("HERMOD_DB_PREPARED_STATEMENTS", True),
)
DATABASES = {"default": _database.config}
if _database.vendor == "sqlite":
    Path(_database.config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:dashboard"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

# Console sign-in: the password step is the console's own (portal.views.auth: throttled and
# audited); django-allauth adds the second factor (TOTP, WebAuthn passkeys, recovery codes).
# Nobody signs up: accounts are made by admins (console, `manage.py hermod_account`, invitations).
ACCOUNT_ADAPTER = "portal.signin.ConsoleAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
MFA_ADAPTER = "portal.signin.ConsoleMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "Hermod console"
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_FORMS = {
    "authenticate": "portal.signin.AuditedAuthenticateForm",
    "authenticate_webauthn": "portal.signin.AuditedWebAuthnAuthenticateForm",
}
SITE_ID = 1

# Optional single sign-on with OpenID Connect (portal.sso). Off while HERMOD_OIDC_ISSUER is empty.
HERMOD_OIDC_ISSUER = env_str("HERMOD_OIDC_ISSUER", "").rstrip("/")
HERMOD_OIDC_CLIENT_ID = env_str("HERMOD_OIDC_CLIENT_ID", "")
HERMOD_OIDC_CLIENT_SECRET = env_str("HERMOD_OIDC_CLIENT_SECRET", "")
HERMOD_OIDC_NAME = env_str("HERMOD_OIDC_NAME", "single sign-on")
HERMOD_OIDC_ROLE_CLAIM = env_str("HERMOD_OIDC_ROLE_CLAIM", "groups")
HERMOD_OIDC_ADMIN_VALUES = env_list("HERMOD_OIDC_ADMIN_VALUES", ["hermod-admin"])
HERMOD_OIDC_OPERATOR_VALUES = env_list("HERMOD_OIDC_OPERATOR_VALUES", ["hermod-operator"])
if HERMOD_OIDC_ISSUER and not HERMOD_OIDC_CLIENT_ID:
    raise EnvError("HERMOD_OIDC_CLIENT_ID", "required when HERMOD_OIDC_ISSUER is set")
if HERMOD_OIDC_ISSUER and not HERMOD_OIDC_ISSUER.startswith(("https://", "http://")):
    raise EnvError("HERMOD_OIDC_ISSUER", "an http(s) URL of the provider (its issuer)")


def oidc_provider_settings(issuer: str, client_id: str, secret: str, name: str) -> dict[str, Any]:
    """allauth's openid_connect configuration for one provider app (empty issuer: none)."""
    apps = []
    if issuer:
        apps.append(
            {
                "provider_id": "hermod-sso",
                "name": name,
                "client_id": client_id,
                "secret": secret,
                "settings": {"server_url": issuer, "fetch_userinfo": True},
            }
        )
    return {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": apps}}


SOCIALACCOUNT_PROVIDERS = oidc_provider_settings(
    HERMOD_OIDC_ISSUER, HERMOD_OIDC_CLIENT_ID, HERMOD_OIDC_CLIENT_SECRET, HERMOD_OIDC_NAME
)
SOCIALACCOUNT_ADAPTER = "portal.sso.ConsoleSocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never sign in to a local account by its email
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True

# The body limit of docs/PROTOCOL.md §11 is enforced by ApiErrorMiddleware before Django reads a
# body.
DATA_UPLOAD_MAX_MEMORY_SIZE = HERMOD_MAX_BODY_BYTES

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (hermod_core.proxies);
# from any other peer both headers are dropped. HERMOD_BEHIND_PROXY trusted them from every peer
# and is gone: a deployment that still sets it is told what replaced it.
HERMOD_TRUSTED_PROXIES = env_networks("HERMOD_TRUSTED_PROXIES")
if env_bool("HERMOD_BEHIND_PROXY", False):
    raise EnvError(
        "HERMOD_BEHIND_PROXY",
        "removed; list the proxy's addresses in HERMOD_TRUSTED_PROXIES instead",
    )
HERMOD_TLS = env_bool("HERMOD_TLS", urlsplit(HERMOD_PUBLIC_URL).scheme == "https")
SESSION_COOKIE_SECURE = HERMOD_TLS
CSRF_COOKIE_SECURE = HERMOD_TLS
SECURE_HSTS_SECONDS = 31_536_000 if HERMOD_TLS else 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
if HERMOD_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "hermod_core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hermod API",
    "DESCRIPTION": "Command API for application servers and mailbox API for devices "
    "(see docs/PROTOCOL.md).",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The unprefixed /command/ and /ms/ aliases serve the same views: documented once.
    "PREPROCESSING_HOOKS": ["hermod_core.api.schema.hooks.hide_path_aliases"],
    # drf-spectacular's own enum post-processing (it rebuilds the components from its registry),
    # then the named wire-format schemas (api/schema/components.py) the operations refer to.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hermod_core.api.schema.hooks.add_components",
    ],
    # Swagger UI from the installed sidecar package: nothing is loaded from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
HERMOD_RATE_LIMIT_REDIS_URL = env_str(
    "HERMOD_RATE_LIMIT_REDIS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_BROKER_DIR),
        "data_folder_out": str(_BROKER_DIR),
        # Else kombu keeps its exchange tables in ./control, wherever the process was started.
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ: the broker confirms every publish (a task is enqueued only once it is safely in
    # the queue, else the publish fails and the sweep enqueues the row later), and acknowledges
    # come after the task (acks_late below), so a task whose worker died is redelivered at once
    # when its channel closes. A worker that loses the broker exits and its supervisor starts
    # it again: a worker that reconnects keeps the tasks whose acknowledgement failed counted
    # as reserved and stops consuming (seen with the threads pool, which cannot cancel them).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    CELERY_BROKER_CONNECTION_RETRY = False
else:
    # Above the longest task (a SCEP enrollment or a callback with its timeout), so that a task
    # is redelivered only when its worker really died.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks wait on the network (callback receivers, the CA) and the database: threads in the worker
# process rather than forked children, which spares the parent-child hand-off of every task
# (README "Performance": about a third of a worker's CPU per callback). `--pool prefork` on the
# command line still overrides it.
CELERY_WORKER_POOL = "threads"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a request when the broker is down: the row is written and the sweep
# enqueues it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
# Keep a worker's database connection across tasks (Celery would open a new one per task):
# every task starts like a request, so CONN_MAX_AGE and the health check still apply.
CELERY_DB_REUSE_MAX = 1000
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

HERMOD_LOG_FORMAT = env_str("HERMOD_LOG_FORMAT", "plain").lower()
if HERMOD_LOG_FORMAT not in {"plain", "json"}:
    raise EnvError("HERMOD_LOG_FORMAT", f"expected plain or json, got {HERMOD_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "hermod_core.observability.ContextFilter"},
        "redact": {"()": "hermod_core.access_log.RedactingFilter"},
        "quiet_tasks": {"()": "hermod_core.observability.QuietTaskFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(client_id)s "
            "%(command_id)s] %(message)s"
        },
        "json": {"()": "hermod_core.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": HERMOD_LOG_FORMAT,
            "filters": ["context", "redact", "quiet_tasks"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("HERMOD_LOG_LEVEL", "INFO").upper()},
    # httpx logs every request line at INFO (an APNs path carries the device token), and
    # hpack/h2 log each header at DEBUG (the provider token too): never below WARNING.
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpcore", "hpack", "h2")},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
