"""Compact JWS built by hand, for what `hermod_core.crypto.jws.sign_compact` rightly refuses.

The crypto package's signer enforces the server's rules (no `none`, no HMAC, RSA >= 2048), so the
faults that break exactly those rules — and only they — are built here. Honest answers never come
through this module except `sign_any`, which the small-key fault needs for an RSA-1024 key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.jwk import PrivateKey

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def _part(value: bytes | Mapping[str, Any]) -> str:
    if isinstance(value, bytes):
        return b64url_encode(value)
    return b64url_encode(json.dumps(dict(value), separators=(",", ":")).encode())


def signing_input(header: Mapping[str, Any], payload: bytes | Mapping[str, Any]) -> str:
    """`<b64url header>.<b64url payload>`, JSON serialised compactly like `sign_compact`."""
    return f"{_part(header)}.{_part(payload)}"


def sign_any(header: Mapping[str, Any], payload: bytes | Mapping[str, Any], key: PrivateKey) -> str:
    """A compact JWS signed with `header["alg"]` (RS*/PS*/ES*) by `key`, whatever its size."""
    alg = str(header["alg"])
    hash_type = _HASHES[alg[2:]]
    data = signing_input(header, payload).encode("ascii")
    if isinstance(key, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(padding.MGF1(hash_type()), hash_type.digest_size)
        )
        signature = key.sign(data, pad, hash_type())
    else:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_type())))
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{data.decode('ascii')}.{b64url_encode(signature)}"


def unsigned(header: Mapping[str, Any], payload: bytes | Mapping[str, Any]) -> str:
    """`alg: none` with an empty signature (RFC 7515 §A.5), `header`'s other members kept."""
    return f"{signing_input({**header, 'alg': 'none'}, payload)}."


def hs256_with(secret: bytes, header: Mapping[str, Any], payload: bytes | Mapping[str, Any]) -> str:
    """HS256 keyed with `secret` — given the public key's PEM, the key-confusion attack."""
    data = signing_input({**header, "alg": "HS256"}, payload)
    mac = hmac.new(secret, data.encode("ascii"), hashlib.sha256).digest()
    return f"{data}.{b64url_encode(mac)}"


def tamper_payload(token: str) -> str:
    """`token` with one payload byte changed after signing; the payload stays valid JSON.

    The case of the last ASCII letter is flipped: inside a JSON string or base64url text that is
    still the same kind of character, so only the signature check can notice.
    """
    header, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(payload))
    for index in range(len(raw) - 1, -1, -1):
        if chr(raw[index]).isascii() and chr(raw[index]).isalpha():
            raw[index] ^= 0x20
            break
    else:
        raw[-1] ^= 0x01
    return f"{header}.{b64url_encode(bytes(raw))}.{signature}"
