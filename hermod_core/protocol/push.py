"""The push registration a device sends (docs/PROTOCOL.md §14): ``PUT /ms/{bid}/push`` or
``deviceinfo.push`` in a provisioning answer. Pure: parsing and checking only."""

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from hermod_core.protocol.errors import ProtocolError, invalid, missing

PROVIDERS = ("relay", "webpush", "fcm", "apns")
MAX_TOKEN = 4096
MAX_ENDPOINT = 2048
_OS = re.compile(r"[A-Za-z0-9._-]{1,20}")
_APNS_TOKEN = re.compile(r"[0-9A-Fa-f]{64,200}")
_PRINTABLE = re.compile(r"[\x21-\x7e]+")


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _string(raw: dict[str, Any], name: str, prefix: str) -> str:
    value = raw.get(name)
    if value is None or value == "":
        raise missing(_path(prefix, name))
    if not isinstance(value, str):
        raise invalid(_path(prefix, name), "must be a string")
    return value


def _b64url(value: str, field: str, size: int, what: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise invalid(field, f"must be base64url ({what})") from None
    if len(data) != size:
        raise invalid(field, f"must be {size} bytes ({what})")
    return data


def _endpoint(value: str, field: str, allow_http: bool) -> str:
    if len(value) > MAX_ENDPOINT:
        raise invalid(field, f"must be at most {MAX_ENDPOINT} characters")
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise invalid(field, "must be an absolute https URL (the Web Push endpoint)")
    return value


def parse_registration(
    raw: object, *, prefix: str = "", allow_http: bool = False
) -> tuple[str, str, str]:
    """``(provider, token, os)`` of a registration; for ``webpush`` the token becomes the
    subscription as JSON (``{"endpoint", "keys": {"p256dh", "auth"}}``). ``ProtocolError``
    names the member at fault."""
    if not isinstance(raw, dict):
        raise ProtocolError("INVALID_BODY", "The body must be a JSON object.", prefix or None)
    provider = _string(raw, "provider", prefix)
    if provider not in PROVIDERS:
        raise invalid(_path(prefix, "provider"), f"must be one of {', '.join(PROVIDERS)}")
    os_name = _string(raw, "os", prefix)
    if not _OS.fullmatch(os_name):
        raise invalid(_path(prefix, "os"), "must be a short name such as ios or android")
    token = _string(raw, "token", prefix)
    token_field = _path(prefix, "token")
    if provider == "webpush":
        endpoint = _endpoint(token, token_field, allow_http)
        p256dh = _string(raw, "p256dh", prefix)
        key = _b64url(p256dh, _path(prefix, "p256dh"), 65, "an uncompressed P-256 point")
        if key[0] != 4:
            raise invalid(_path(prefix, "p256dh"), "must be an uncompressed P-256 point")
        auth = _string(raw, "auth", prefix)
        _b64url(auth, _path(prefix, "auth"), 16, "the 16-byte auth secret")
        token = json.dumps({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
    elif len(token) > MAX_TOKEN or not _PRINTABLE.fullmatch(token):
        raise invalid(token_field, f"must be at most {MAX_TOKEN} printable characters")
    elif provider == "apns" and not _APNS_TOKEN.fullmatch(token):
        raise invalid(token_field, "must be the APNs device token in hex")
    return provider, token, os_name.lower()
