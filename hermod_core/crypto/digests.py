"""Strict base64 / base64url codecs and the SHA-256 digest the protocol puts on the wire.

Strict means canonical: for a given byte string exactly one text decodes to it (modulo the
tolerances documented per function). That keeps tokens and signatures non-malleable — a
signature with flipped "unused" trailing bits is rejected instead of silently decoding to the same
bytes — and it means a decode error is always the sender's fault, never ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from hermod_core.crypto.errors import EncodingError, ErrorCode

_B64URL_TEXT = re.compile(r"[A-Za-z0-9_-]*")
_B64_TEXT = re.compile(r"[A-Za-z0-9+/]*(={0,2})")
# Only the whitespace that line-wrapped base64 (PEM, MIME, copy-paste) really contains.
_WRAPPING_WHITESPACE = str.maketrans("", "", " \t\r\n")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2), the encoding of every JWS and JWK member."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_sha256(data: bytes) -> str:
    """Base64url (no padding) of SHA-256 of `data`: the digest format of docs/PROTOCOL.md §6.3."""
    return b64url_encode(hashlib.sha256(data).digest())


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url, rejecting anything that is not its canonical encoding.

    Guarantees: only the characters `A-Z a-z 0-9 - _` are accepted; padding (`=`), whitespace
    and the standard alphabet's `+ /` are rejected; a length that no byte string encodes to
    (remainder 1 modulo 4) and non-zero unused trailing bits are rejected. Raises
    `EncodingError` (`BASE64_INVALID`) and nothing else.
    """
    if not isinstance(text, str) or _B64URL_TEXT.fullmatch(text) is None or len(text) % 4 == 1:
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not canonical base64url.")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not canonical base64url.")
    return data


def b64decode_strict(text: str) -> bytes:
    """Decode standard-alphabet base64 as integrators send it (certreq, certificates, pkcs7).

    Decided tolerances: spaces, tabs and line breaks anywhere are ignored (PEM bodies and
    line-wrapped base64 are common), and padding may be omitted (some clients strip it) — but if
    present it must be exactly right. Rejected: any other character (including the base64url
    alphabet `- _`), `=` anywhere but at the end, impossible lengths, non-zero unused trailing
    bits. Raises `EncodingError` (`BASE64_INVALID`) and nothing else.
    """
    if not isinstance(text, str):
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not base64 text.")
    compact = text.translate(_WRAPPING_WHITESPACE)
    match = _B64_TEXT.fullmatch(compact)
    if match is None:
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not valid base64.")
    if match.group(1) and len(compact) % 4 != 0:
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value has wrong base64 padding.")
    unpadded = compact.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value has an impossible length.")
    try:
        data = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except binascii.Error as exc:  # unreachable after the checks above; kept as a backstop
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not valid base64.") from exc
    if base64.b64encode(data).decode("ascii").rstrip("=") != unpadded:
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not canonical base64.")
    return data


def der_from_pem_or_b64(text: str, labels: tuple[str, ...], *, max_chars: int) -> bytes:
    """The DER inside PEM armour with one of `labels`, or inside bare base64 (`b64decode_strict`).

    The protocol sends bare base64 DER; PEM is accepted because administrators paste it into the
    console. Raises `EncodingError` (`BASE64_INVALID`) and nothing else.
    """
    if not isinstance(text, str):
        raise EncodingError(ErrorCode.BASE64_INVALID, "The value is not text.")
    if len(text) > max_chars:
        raise EncodingError(ErrorCode.BASE64_INVALID, f"The value exceeds {max_chars} characters.")
    body = text.strip()
    if body.startswith("-----BEGIN "):
        for label in labels:
            header, footer = f"-----BEGIN {label}-----", f"-----END {label}-----"
            if body.startswith(header) and body.endswith(footer):
                body = body[len(header) : -len(footer)]
                break
        else:
            raise EncodingError(ErrorCode.BASE64_INVALID, "The PEM label is not the expected one.")
    return b64decode_strict(body)
