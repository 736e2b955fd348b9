"""Reading a JSON request body under the limits of docs/PROTOCOL.md §11.

Only JSON that every store can keep is let in: no NaN or infinities (Python's json module accepts
them, JSON and jsonb do not), no NUL characters or lone surrogates in strings (jsonb refuses
them, and a renderer cannot encode them back), and no nesting deeper than any real message needs
(deep structures exhaust the recursion of the code that stores and renders them).
"""

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.request import Request

from hermod_core.api.errors import ApiError

MAX_DEPTH = 64


class _Unstorable(ValueError):
    """A JSON value the server must not store; the message says which."""


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Unstorable("a number is out of range")
    return number


def _no_constant(name: str) -> float:
    raise _Unstorable(f"{name} is not JSON")


def read_json(request: Request) -> Any:
    """The decoded body; 413 above the size limit, 400 for anything that is not storable JSON.

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
        value = json.loads(body.decode("utf-8"), parse_float=_finite, parse_constant=_no_constant)
        _check_storable(value)
    except _Unstorable as exc:
        raise ApiError(400, "INVALID_JSON", f"The request body is not storable: {exc}.") from None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "INVALID_JSON", "The request body is not valid JSON.") from None
    except RecursionError:
        raise ApiError(400, "INVALID_JSON", "The request body is nested too deeply.") from None
    return value


def _check_storable(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Unstorable(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict):
            for key, member in item.items():
                _check_string(key)
                stack.append((member, depth + 1))
        elif isinstance(item, list):
            stack.extend((member, depth + 1) for member in item)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 2**63:
            raise _Unstorable("an integer is out of range")


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise _Unstorable("a string contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Unstorable("a string contains a lone surrogate") from None
