"""Replay fingerprints of verified signature values (docs/PROTOCOL.md §6.3: one signature, one
answer).

A signature the server accepted once must not complete a second command; the server remembers a
fingerprint of every accepted signature value. The fingerprint is the SHA-256 of the value in a
canonical form, so that another encoding of the *same* signature is the same fingerprint:

- ECDSA: `(r, s)` and `(r, n - s)` verify for the same bytes (ECDSA is malleable), so `s` is
  taken as `min(s, n - s)`; `r` and `s` are written as fixed-length big-endian integers, which
  also makes a CMS's DER Ecdsa-Sig-Value and a JWS's raw `r || s` of one signature equal.
- RSA (PKCS#1 v1.5 and PSS): the value is an integer below the modulus, sent in exactly the
  modulus' length (`cryptography` refuses any other length), so it is its own canonical form.

Only for signatures that verified with `key`: a value that does not parse raises `CryptoError`.

`verify_raw_rsa` checks the raw PKCS#1 v1.5 signatures of `format: raw` (docs/PROTOCOL.md §5.3).
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hermod_core.crypto.errors import CryptoError, ErrorCode
from hermod_core.crypto.jwk import PublicKey

# The group orders n of the supported curves (SEC 2 v2 §2.4.2, §2.5.1, §2.6.1).
_ORDERS: Final[dict[str, int]] = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "secp521r1": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
        "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


def _ecdsa_values(signature: bytes, encoding: Literal["der", "raw"], size: int) -> tuple[int, int]:
    if encoding == "der":
        try:
            return decode_dss_signature(signature)
        except ValueError:
            raise CryptoError(ErrorCode.CMS_INVALID, "The ECDSA signature is not DER.") from None
    if len(signature) != 2 * size:
        raise CryptoError(ErrorCode.JWS_MALFORMED, "The ECDSA signature has the wrong length.")
    return int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")


def signature_fingerprint(
    key: PublicKey, signature: bytes, *, ecdsa_encoding: Literal["der", "raw"]
) -> str:
    """Hex SHA-256 of the canonical form of `signature`, a signature by `key` that verified.

    `ecdsa_encoding` says how an ECDSA value is written: `der` (CMS) or `raw` (JWS `r || s`).
    """
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return hashlib.sha256(signature).hexdigest()
    order = _ORDERS.get(key.curve.name)
    if order is None:
        raise CryptoError(ErrorCode.KEY_UNSUPPORTED, "Only P-256/384/521 curves.")
    size = (key.curve.key_size + 7) // 8
    r, s = _ecdsa_values(signature, ecdsa_encoding, size)
    canonical = r.to_bytes(size, "big") + min(s, order - s).to_bytes(size, "big")
    return hashlib.sha256(canonical).hexdigest()


# PKCS#11 mechanisms of a raw RSA signature (`format: raw`, docs/PROTOCOL.md §5.3) -> its hash.
RAW_RSA_MECHANISMS: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "CKM_SHA256_RSA_PKCS": hashes.SHA256,
    "CKM_SHA384_RSA_PKCS": hashes.SHA384,
    "CKM_SHA512_RSA_PKCS": hashes.SHA512,
}
DEFAULT_RAW_MECHANISM: Final = "CKM_SHA256_RSA_PKCS"


def verify_raw_rsa(key: PublicKey, signature: bytes, content: bytes, mechanism: str) -> None:
    """Return only if `signature` is an RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2) by the RSA
    `key` over `content`, hashed as `mechanism` says (`RAW_RSA_MECHANISMS`); else `CryptoError`
    (`KEY_UNSUPPORTED` for a non-RSA key or an unknown mechanism, `RAW_BAD_SIGNATURE` when it
    does not verify)."""
    hash_type = RAW_RSA_MECHANISMS.get(mechanism)
    if hash_type is None:
        raise CryptoError(ErrorCode.KEY_UNSUPPORTED, f"The mechanism {mechanism} is not supported.")
    if not isinstance(key, rsa.RSAPublicKey):
        raise CryptoError(ErrorCode.KEY_UNSUPPORTED, "A raw PKCS#1 signature needs an RSA key.")
    try:
        key.verify(signature, content, padding.PKCS1v15(), hash_type())
    except (InvalidSignature, ValueError):
        raise CryptoError(
            ErrorCode.RAW_BAD_SIGNATURE, "The raw signature does not verify."
        ) from None
