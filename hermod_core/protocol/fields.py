"""Typed readers for members of a JSON request: each names the dotted field it rejects.

Java implementations of Hermod accept numbers and booleans written as strings ("2048", "true"),
and integrations send them that way (the seeds do), so the readers here accept both spellings.
"""

import re
import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any

from hermod_core.crypto.digests import b64decode_strict
from hermod_core.crypto.errors import CryptoError
from hermod_core.protocol.errors import invalid, missing

HEX48 = re.compile(r"[0-9a-f]{48}")


def obj(parent: dict[str, Any], key: str, path: str, *, required: bool) -> dict[str, Any] | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise missing(path)
        return None
    if not isinstance(value, dict):
        raise invalid(path, "must be an object")
    return value


def lst(parent: dict[str, Any], key: str, path: str, *, required: bool) -> list[Any] | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise missing(path)
        return None
    if not isinstance(value, list):
        raise invalid(path, "must be a list")
    return value


def text(
    parent: dict[str, Any],
    key: str,
    path: str,
    *,
    required: bool,
    max_length: int = 255,
    min_length: int = 1,
) -> str | None:
    """A string without control or invisible format characters (no unicode tricks)."""
    value = parent.get(key)
    if value is None:
        if required:
            raise missing(path)
        return None
    if not isinstance(value, str):
        raise invalid(path, "must be a string")
    if not min_length <= len(value) <= max_length:
        raise invalid(path, f"must be {min_length} to {max_length} characters long")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"} for ch in value):
        raise invalid(path, "must not contain control or invisible characters")
    return value


def choice(
    parent: dict[str, Any], key: str, path: str, allowed: Iterable[str], *, default: str | None
) -> str | None:
    value = parent.get(key)
    if value is None:
        return default
    options = list(allowed)
    if not isinstance(value, str) or value not in options:
        raise invalid(path, f"must be one of {', '.join(options)}")
    return value


def integer(
    parent: dict[str, Any], key: str, path: str, *, default: int | None, low: int, high: int
) -> int | None:
    value = parent.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise invalid(path, "must be a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise invalid(path, "must be a number")
    if not low <= value <= high:
        raise invalid(path, f"must be between {low} and {high}")
    return value


def flag(parent: dict[str, Any], key: str, path: str, *, default: bool) -> bool:
    """``"true"``/``"false"`` (the documented spelling) or a JSON boolean."""
    value = parent.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise invalid(path, 'must be "true" or "false"')


def profile_id(parent: dict[str, Any], key: str, path: str) -> uuid.UUID | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(path, "must be a profile id (UUID)")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(path, "must be a profile id (UUID)") from None


def admin_key(parent: dict[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not HEX48.fullmatch(value):
        raise invalid(path, "must be 48 lowercase hex characters")
    return value


def base64_bytes(value: Any, path: str, *, max_bytes: int = 512 * 1024) -> bytes:
    """Standard base64 as integrations send it (the tolerances of ``b64decode_strict``)."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(path, "must be base64 text")
    if len(value) > max_bytes * 4 // 3 + 16:
        raise invalid(path, "is too large")
    try:
        return b64decode_strict(value)
    except CryptoError:
        raise invalid(path, "is not valid base64") from None
