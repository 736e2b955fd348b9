"""Structured logs: one JSON object per line with the request, client and command ids in play.

The ids live in context variables set by ``RequestIdMiddleware``, the API-key authentication,
the command views and the Celery tasks, so every log line written while handling one request or
task carries them without passing them around.
"""

import json
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

from hermod_core.access_log import redact

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
client_id: ContextVar[str | None] = ContextVar("client_id", default=None)
command_id: ContextVar[str | None] = ContextVar("command_id", default=None)

_CONTEXT = {"request_id": request_id, "client_id": client_id, "command_id": command_id}
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Copies the context ids onto every record (plain format shows them too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


# Tasks that run every few seconds: Celery's own INFO lines for each run ("received",
# "succeeded", beat's "Sending due task") would fill the log with nothing. The sweep logs what it
# did itself (``services.expiry.sweep``), and a failing run still logs (at ERROR).
QUIET_TASKS = frozenset({"hermod.sweep"})


class QuietTaskFilter(logging.Filter):
    """Drops Celery's routine INFO lines about the runs of ``QUIET_TASKS``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("celery"):
            return True
        data = getattr(record, "data", None)
        if isinstance(data, dict) and data.get("name") in QUIET_TASKS:
            return False
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.name == "celery.beat" and any(a in QUIET_TASKS for a in args))


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Text is redacted (``access_log.redact``): Django attaches the
    request to its records, whose text form carries the full path with its query string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value is not None and not key.startswith("_"):
                if isinstance(value, int | float | bool):
                    entry[key] = value
                else:
                    entry[key] = redact(str(value))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RequestIdMiddleware:
    """Gives every request an id (the caller's ``X-Request-Id`` if sane) and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if 0 < len(given) <= 64 and given.replace("-", "").isalnum() else None
        tokens = [
            request_id.set(rid or uuid.uuid4().hex),
            client_id.set(None),
            command_id.set(None),
        ]
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request_id.get() or ""
            return response
        finally:
            for var, token in zip(_CONTEXT.values(), tokens, strict=True):
                var.reset(token)
