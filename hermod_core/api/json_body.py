"""Reading a JSON request body under the limits of PROTOCOL.md §11."""

import json
from typing import Any

from django.conf import settings
from rest_framework.request import Request

from hermod_core.api.errors import ApiError


def read_json(request: Request) -> Any:
    """The decoded body; 413 above the size limit, 400 for anything that is not JSON.

    The body is parsed whatever the Content-Type says: existing integrations do not all send one.
    """
    stream = request._request  # the Django request: its body, not DRF's parsers
    body = stream.read(settings.HERMOD_MAX_BODY_BYTES + 1)
    if len(body) > settings.HERMOD_MAX_BODY_BYTES:
        raise ApiError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request body exceeds {settings.HERMOD_MAX_BODY_BYTES} bytes.",
        )
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "INVALID_JSON", "The request body is not valid JSON.") from None
    except RecursionError:
        raise ApiError(400, "INVALID_JSON", "The request body is nested too deeply.") from None
    if _has_nul(value):
        # PostgreSQL's jsonb cannot store U+0000; refuse it here instead of failing on save.
        raise ApiError(400, "INVALID_JSON", "The request body contains a NUL character.")
    return value


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
