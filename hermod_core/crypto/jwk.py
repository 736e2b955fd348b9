"""JSON Web Keys (RFC 7517/7518) for the public keys devices send, and their fingerprints.

Only the key types the protocol can request exist here (docs/PROTOCOL.md §5.1): RSA of 2048 to 8192
bits and EC on P-256, P-384 (and P-521 for ES512). Everything else is rejected, so every
`PublicKey` that leaves this module is one the rest of the server can use without re-checking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.errors import (
    CryptoError,
    ErrorCode,
    JwkError,
    UnsupportedKeyError,
)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# No real device uses less (docs/PROTOCOL.md §5.1 asks for 2048/3072/4096); the upper bound keeps a
# hostile key from making every verification expensive.
RSA_MIN_BITS: Final = 2048
RSA_MAX_BITS: Final = 8192
# FIPS 186-5 caps e below 2**256; a larger exponent only serves to slow verification down.
_RSA_MAX_EXPONENT: Final = 2**256

# JWK `crv` name -> (curve class, cryptography curve name, coordinate length in bytes).
_CURVES: Final[dict[str, tuple[type[ec.EllipticCurve], str, int]]] = {
    "P-256": (ec.SECP256R1, "secp256r1", 32),
    "P-384": (ec.SECP384R1, "secp384r1", 48),
    "P-521": (ec.SECP521R1, "secp521r1", 66),
}
_CURVE_NAMES: Final = {name: crv for crv, (_, name, _) in _CURVES.items()}


def _invalid(message: str) -> JwkError:
    return JwkError(ErrorCode.JWK_INVALID, message)


def _member_int(jwk: Mapping[str, object], name: str, *, max_bytes: int) -> int:
    """The unsigned big-endian integer in a base64url member.

    Leading zero bytes are tolerated because real apps send them: Java's
    `BigInteger.toByteArray()` prepends a sign byte when the top bit is set (docs/PROTOCOL.md §6.1).
    """
    value = jwk.get(name)
    if not isinstance(value, str):
        raise _invalid(f"Member '{name}' is missing or not a string.")
    try:
        raw = b64url_decode(value)
    except CryptoError as exc:
        raise _invalid(f"Member '{name}' is not base64url.") from exc
    significant = raw.lstrip(b"\x00")
    if not raw or len(significant) > max_bytes or len(raw) > max_bytes + 1:
        raise _invalid(f"Member '{name}' has an impossible length.")
    return int.from_bytes(significant, "big")


def _rsa_from_jwk(jwk: Mapping[str, object]) -> rsa.RSAPublicKey:
    n = _member_int(jwk, "n", max_bytes=RSA_MAX_BITS // 8)
    e = _member_int(jwk, "e", max_bytes=32)
    if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS:
        raise _invalid(f"RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits.")
    # An even modulus or exponent cannot be an RSA key; e >= 3 excludes the trivial exponents.
    if n % 2 == 0 or e % 2 == 0 or not 3 <= e < _RSA_MAX_EXPONENT:
        raise _invalid("The RSA modulus or exponent is not valid.")
    try:
        return rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError as exc:
        raise _invalid("The RSA modulus or exponent is not valid.") from exc


def _ec_from_jwk(jwk: Mapping[str, object]) -> ec.EllipticCurvePublicKey:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _CURVES:
        raise _invalid("Member 'crv' must be P-256, P-384 or P-521.")
    curve, _, size = _CURVES[crv]
    # RFC 7518 wants full-length coordinates; accept one extra sign byte or a stripped leading
    # zero (the same Java encoding quirk as RSA `n`) — the on-curve check below is what matters.
    x = _member_int(jwk, "x", max_bytes=size)
    y = _member_int(jwk, "y", max_bytes=size)
    try:
        # cryptography checks that (x, y) lies on the curve: this rejects invalid-curve points.
        key = ec.EllipticCurvePublicNumbers(x, y, curve()).public_key()
    except ValueError as exc:
        raise _invalid("The EC point is not on the curve.") from exc
    # OpenSSL reduces coordinates modulo p, so x + p would pass as x: one key, many encodings.
    numbers = key.public_numbers()
    if (numbers.x, numbers.y) != (x, y):
        raise _invalid("An EC coordinate is not reduced modulo the field prime.")
    return key


def public_key_from_jwk(jwk: object) -> PublicKey:
    """The public key a JWK describes, or `JwkError` (`JWK_INVALID`) — never anything else.

    Extra members (`kid`, `use`, `alg`, `keystate`, `"n#len"` …) are ignored. Private members
    (`d`, `p`, `q` …) are ignored too and never read: a device that leaks its private key still
    only gets its public key used.
    """
    if not isinstance(jwk, Mapping) or not all(isinstance(k, str) for k in jwk):
        raise _invalid("A JWK must be a JSON object.")
    kty = jwk.get("kty")
    if kty == "RSA":
        return _rsa_from_jwk(jwk)
    if kty == "EC":
        return _ec_from_jwk(jwk)
    raise _invalid("Member 'kty' must be RSA or EC.")


def key_type_and_size(key: object) -> tuple[str, int]:
    """("RSA", modulus bits) or ("EC", 256/384/521), as docs/PROTOCOL.md §5.1 `keytype`/`keylength`.

    Raises `UnsupportedKeyError` (`KEY_UNSUPPORTED`) for any other key or curve.
    """
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return ("RSA", key.key_size)
    if (
        isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
        and key.curve.name in _CURVE_NAMES
    ):
        return ("EC", key.curve.key_size)
    raise UnsupportedKeyError(ErrorCode.KEY_UNSUPPORTED, "Only RSA and P-256/384/521 keys.")


def require_supported_public_key(key: object) -> PublicKey:
    """`key` itself if it is an RSA or P-256/384/521 public key, else `UnsupportedKeyError`."""
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        key_type_and_size(key)
        return key
    raise UnsupportedKeyError(ErrorCode.KEY_UNSUPPORTED, "Only RSA and P-256/384/521 keys.")


def jwk_from_public_key(key: PublicKey, **extra: object) -> dict[str, object]:
    """The canonical JWK of `key`, plus `extra` members (`kid`, `use`, `alg` …).

    RSA `n`/`e` are minimal big-endian; EC `x`/`y` are full coordinate length, as RFC 7518
    §6.2.1.2 requires (and as RFC 7638 thumbprints from other implementations assume). `extra`
    cannot override the key members (ValueError: a programming error, not bad input).
    """
    members: dict[str, object]
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        members = {
            "kty": "RSA",
            "n": b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url_encode(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }
    else:
        crv = _CURVE_NAMES.get(key.curve.name)
        if crv is None:
            raise UnsupportedKeyError(ErrorCode.KEY_UNSUPPORTED, "Only P-256/384/521 curves.")
        size = _CURVES[crv][2]
        point = key.public_numbers()
        members = {
            "kty": "EC",
            "crv": crv,
            "x": b64url_encode(point.x.to_bytes(size, "big")),
            "y": b64url_encode(point.y.to_bytes(size, "big")),
        }
    clash = members.keys() & extra.keys()
    if clash:
        raise ValueError(f"extra members would override key members: {sorted(clash)}")
    return {**members, **extra}


def thumbprint(jwk_or_key: object) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) — the key fingerprint the server records.

    Computed from the canonical members, so a JWK with a leading zero in `n` or extra members
    has the same thumbprint as its clean form. Raises `JwkError`/`UnsupportedKeyError` for input
    that is not a supported key.
    """
    key = (
        public_key_from_jwk(jwk_or_key)
        if isinstance(jwk_or_key, Mapping)
        else require_supported_public_key(jwk_or_key)
    )
    required = jwk_from_public_key(key)
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def spki_der(key: PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of `key`: one byte string per key, whatever its origin."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_keys_equal(a: PublicKey, b: PublicKey) -> bool:
    """Whether two keys are the same key (their SubjectPublicKeyInfo DER is identical)."""
    return spki_der(a) == spki_der(b)
