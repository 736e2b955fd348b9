"""The ``X-Api-Key`` header of docs/PROTOCOL.md §3: ``base64(<client-id>:<key>)``."""

import base64
import binascii
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiKey:
    client_id: str
    key: str


@dataclass(frozen=True)
class MalformedApiKey:
    """Why a header is not ``base64(<client-id>:<key>)``: for the server log only (the client
    always gets the same 401, docs/PROTOCOL.md §3)."""

    reason: str


_MAX_LENGTH = 1024


def read_api_key_header(value: str | None) -> ApiKey | MalformedApiKey:
    """The client id and key of a header value, or what is wrong with it (for the operator)."""
    if not value:
        return MalformedApiKey("no X-Api-Key header")
    if len(value) > _MAX_LENGTH:
        return MalformedApiKey(f"the header is longer than {_MAX_LENGTH} characters")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return MalformedApiKey("the header is not standard base64")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return MalformedApiKey("the decoded header is not UTF-8 text")
    client_id, colon, key = decoded.partition(":")
    if not colon:
        return MalformedApiKey("the decoded header has no ':' between client id and key")
    if not client_id:
        return MalformedApiKey("the decoded header has an empty client id")
    if not key:
        return MalformedApiKey("the decoded header has an empty key")
    return ApiKey(client_id=client_id, key=key)


def parse_api_key_header(value: str | None) -> ApiKey | None:
    """The client id and key of a header value, or None for anything malformed.

    The caller answers every None the same way as a wrong key, so no reason is returned.
    """
    parsed = read_api_key_header(value)
    return parsed if isinstance(parsed, ApiKey) else None


def trailing_whitespace_hint(text: str) -> str:
    """Why a key or client id that ends in a newline or space was not recognised: the header was
    most likely made with ``echo 'id:key' | base64``, which encodes echo's newline."""
    if text != text.rstrip():
        return " (it ends with a newline or space: encode with printf or echo -n, not echo)"
    return ""


def build_api_key_header(client_id: str, key: str) -> str:
    return base64.b64encode(f"{client_id}:{key}".encode()).decode("ascii")
