"""Access logs without secrets: one-time tokens (``?token=``), ``Authorization`` and API-key
headers, cookies, and enrollment codes (``/enroll/<code>``) never reach a log line.

``redact`` is pure; ``RedactingLogger`` is gunicorn's logger with every atom of the access-log
format passed through it (whatever ``access_log_format`` an operator chooses), and
``RedactingFilter`` does the same for Django's own request loggers (``Not Found: /enroll/…``).
gunicorn loads both through ``hermod_core.gunicorn_conf``.
"""

import logging
import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# A query parameter whose name ends in "token" (token, boxtoken, access_token), also inside a
# percent-encoded URL (a Referer carrying a plug-out link): its value up to the next separator.
_TOKEN_PARAM = re.compile(r"(?i)((?:^|[?&;]|%3F|%26)[\w.-]*token(?:=|%3D))(?:(?!%26)[^&;\s\"'])*")
# The enrollment code is the path segment after /enroll/ (a bearer secret, decided).
_ENROLL_CODE = re.compile(r"(?i)((?:/|%2F)enroll(?:/|%2F))(?:(?!%2F)[^/?#;\s\"'])+")
_SECRET_NAMES = ("authorization", "api-key", "api_key", "cookie", "token")


def redact(text: str) -> str:
    """``text`` with token parameter values and enrollment codes replaced by ``[redacted]``."""
    if "token" not in text.lower() and "enroll" not in text.lower():
        return text  # the common case: nothing to look for
    text = _TOKEN_PARAM.sub(rf"\g<1>{REDACTED}", text)
    return _ENROLL_CODE.sub(rf"\g<1>{REDACTED}", text)


def redact_atoms(atoms: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's access-log atoms, safe to format: header and environment atoms that carry
    credentials (``{authorization}i``, ``{http_x_api_key}e``, ``{cookie}i`` …) are replaced
    whole, every other text atom (the request line ``r``, ``U``, ``q``, the referer ``f`` …) is
    ``redact``-ed."""
    safe: dict[str, Any] = {}
    for name, value in atoms.items():
        lowered = name.lower()
        if lowered.startswith("{") and any(secret in lowered for secret in _SECRET_NAMES):
            safe[name] = REDACTED
        elif isinstance(value, str):
            safe[name] = redact(value)
        else:
            safe[name] = value
    return safe


class RedactingLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, formatting access lines from redacted atoms."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> Any:
        return redact_atoms(super().atoms(resp, req, environ, request_time))


class RedactingFilter(logging.Filter):
    """Redacts a record's message (Django logs ``Not Found: <path>`` for a dead enrollment
    link; runserver logs the whole request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
