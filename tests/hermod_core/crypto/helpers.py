"""Test helpers: error-code assertions, token forging outside our policy, fuzz settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hermod_core.crypto.errors import CryptoError

# Fuzz tests prove "nothing but CryptoError"; no example database so runs stay hermetic.
FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@contextmanager
def raises_code(code: str) -> Iterator[pytest.ExceptionInfo[CryptoError]]:
    """Assert the block raises a CryptoError with exactly this code."""
    with pytest.raises(CryptoError) as info:
        yield info
    assert info.value.code == code, f"expected {code}, got {info.value!r}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def header_b64(header: dict[str, Any]) -> str:
    return b64url(json.dumps(header, separators=(",", ":")).encode())


def forge(header: dict[str, Any] | str, payload: bytes, signature: bytes) -> str:
    """A compact JWS with any header and signature, bypassing every check of ours."""
    encoded = header if isinstance(header, str) else header_b64(header)
    return f"{encoded}.{b64url(payload)}.{b64url(signature)}"


def forge_hs256(header: dict[str, Any], payload: bytes, secret: bytes) -> str:
    """An HS256 token keyed with `secret` — the alg-confusion attacker's tool."""
    signing_input = f"{header_b64(header)}.{b64url(payload)}".encode("ascii")
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode('ascii')}.{b64url(mac)}"


def forge_rs256(header: dict[str, Any], payload: bytes, key: rsa.RSAPrivateKey) -> str:
    """RS256 with any RSA key, even one our policy refuses (1024 bits)."""
    signing_input = f"{header_b64(header)}.{b64url(payload)}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{b64url(signature)}"


_ASN1_BYTES = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x30, 0x31, 0x80, 0x81, 0x82, 0xA0, 0xFF]


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with a few bytes flipped, inserted, deleted or truncated — deep parser paths."""
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "asn1", "insert", "delete", "truncate"]))
        position = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(min_value=1, max_value=255))
        elif action == "asn1" and data:
            # Tags and length bytes that steer a DER parser into its rarer branches.
            data[position] = draw(st.sampled_from(_ASN1_BYTES))
        elif action == "insert":
            data.insert(position, draw(st.integers(min_value=0, max_value=255)))
        elif action == "delete" and data:
            del data[position]
        elif action == "truncate":
            del data[position:]
    return bytes(data)
