"""Key material of the reference device: generation, PEM storage, JWKs as real apps write them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.jwk import PrivateKey, PublicKey, jwk_from_public_key, key_type_and_size
from hermod_core.protocol.commands import EC_MECHANISM

# What the device can generate (docs/PROTOCOL.md §5.1); anything else in keytypeprios is skipped.
SUPPORTED: Final = frozenset(
    {("RSA", 2048), ("RSA", 3072), ("RSA", 4096), ("EC", 256), ("EC", 384)}
)
_CURVES: Final[dict[int, ec.EllipticCurve]] = {
    256: ec.SECP256R1(),
    384: ec.SECP384R1(),
    521: ec.SECP521R1(),
}

# (keytype, keylength) -> a new private key. Injectable so tests can hand out pre-generated keys.
KeyFactory = Callable[[str, int], PrivateKey]


def generate_key(keytype: str, keylength: int) -> PrivateKey:
    """A fresh key: RSA of `keylength` bits (any size, 1024 included for the small-key fault) or
    EC on P-256/384/521. ValueError for anything else."""
    if keytype == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=keylength)
    if keytype == "EC" and keylength in _CURVES:
        return ec.generate_private_key(_CURVES[keylength])
    raise ValueError(f"cannot generate a {keytype} {keylength} key")


def signing_alg(key: PrivateKey | PublicKey) -> str:
    """The JWS algorithm the device signs with: RS256, or ES256/ES384/ES512 by curve."""
    keytype, size = key_type_and_size(key)
    if keytype == "RSA":
        return "RS256"
    return EC_MECHANISM.get(size, "ES512")


def private_key_pem(key: PrivateKey) -> str:
    """Unencrypted PKCS#8 PEM: the state folder is a test fixture, protected by file mode only."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(pem: str) -> PrivateKey:
    """The key in `private_key_pem` output; ValueError if it is not an RSA or EC key."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("the stored key is not an RSA or EC key")
    return key


def public_key_pem(key: PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM: what a confused HS256 verifier would use as its secret."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _with_sign_byte(member: str) -> str:
    # Java's BigInteger.toByteArray() prepends 0x00 when the top bit is set (docs/PROTOCOL.md §6.1).
    raw = b64url_decode(member)
    return b64url_encode(b"\x00" + raw) if raw and raw[0] & 0x80 else member


def device_jwk(
    key: PublicKey, *, quirky: bool, keystate: str | None = None, **members: object
) -> dict[str, object]:
    """The JWK of `key` with `members` (`kid`, `use`, `alg` …).

    `quirky` mimics the real apps of docs/PROTOCOL.md §6.1: a sign byte before `n` (and before EC
    coordinates whose top bit is set), an `"n#len"` member with the modulus size in bits, and a
    `keystate` member. The key it describes is unchanged; only its spelling is.
    """
    jwk = jwk_from_public_key(key, **members)
    if not quirky:
        return jwk
    for name in ("n", "x", "y"):
        if isinstance(jwk.get(name), str):
            jwk[name] = _with_sign_byte(str(jwk[name]))
    if isinstance(key, rsa.RSAPublicKey):
        jwk["n#len"] = key.key_size
    jwk["keystate"] = keystate or "ACTIVE"
    return jwk
