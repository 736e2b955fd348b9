"""The ``X-Api-Key`` header of docs/PROTOCOL.md §3: ``base64(<client-id>:<key>)``."""

import base64
import binascii
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKey:
    client_id: str
    key: str


def parse_api_key_header(value: str | None) -> ApiKey | None:
    """The client id and key of a header value, or None for anything malformed.

    The caller answers every None the same way as a wrong key, so no reason is returned.
    """
    if not value or len(value) > 1024:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, colon, key = decoded.partition(":")
    if not colon or not client_id or not key:
        return None
    return ApiKey(client_id=client_id, key=key)


def build_api_key_header(client_id: str, key: str) -> str:
    return base64.b64encode(f"{client_id}:{key}".encode()).decode("ascii")
