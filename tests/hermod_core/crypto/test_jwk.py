from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hermod_core.crypto.digests import b64url_decode, b64url_encode
from hermod_core.crypto.errors import ErrorCode
from hermod_core.crypto.jwk import (
    jwk_from_public_key,
    key_type_and_size,
    public_key_from_jwk,
    public_keys_equal,
    require_supported_public_key,
    spki_der,
    thumbprint,
)

from . import vectors
from .helpers import raises_code


def _with_leading_zero(member: str) -> str:
    return b64url_encode(b"\x00" + b64url_decode(member))


def test_it_reads_the_rfc7638_key_and_computes_its_known_thumbprint() -> None:
    key = public_key_from_jwk(vectors.RFC7638_JWK)
    assert key_type_and_size(key) == ("RSA", 2048)
    assert thumbprint(vectors.RFC7638_JWK) == vectors.RFC7638_THUMBPRINT
    assert thumbprint(key) == vectors.RFC7638_THUMBPRINT


def test_it_accepts_an_app_jwk_with_a_leading_zero_in_n_and_extra_members() -> None:
    # What a Java app sends (docs/PROTOCOL.md §6.1): sign byte in `n`, "n#len", keystate, kid.
    app_jwk = {
        **vectors.RFC7638_JWK,
        "n": _with_leading_zero(vectors.RFC7638_JWK["n"]),
        "n#len": 2048,
        "keystate": "ACTIVE",
        "kid": "attestation",
        "use": "sig",
    }
    key = public_key_from_jwk(app_jwk)
    assert public_keys_equal(key, public_key_from_jwk(vectors.RFC7638_JWK))
    assert thumbprint(app_jwk) == vectors.RFC7638_THUMBPRINT


def test_it_ignores_the_private_member_d() -> None:
    with_d = public_key_from_jwk(vectors.RFC7515_A3_JWK)
    without_d = {k: v for k, v in vectors.RFC7515_A3_JWK.items() if k != "d"}
    assert isinstance(with_d, ec.EllipticCurvePublicKey)
    assert public_keys_equal(with_d, public_key_from_jwk(without_d))
    assert "d" not in jwk_from_public_key(with_d)


@pytest.mark.parametrize("fixture", ["rsa2048", "rsa3072", "rsa4096", "p256", "p384", "p521"])
def test_it_round_trips_every_supported_key_through_a_jwk(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    private_key = request.getfixturevalue(fixture)
    public = private_key.public_key()
    jwk = jwk_from_public_key(public, kid="signer", use="sig")
    assert jwk["kid"] == "signer"
    assert public_keys_equal(public_key_from_jwk(jwk), public)
    assert thumbprint(jwk) == thumbprint(public)


def test_it_writes_minimal_rsa_members_and_full_length_ec_coordinates(
    rsa2048: rsa.RSAPrivateKey, p521: ec.EllipticCurvePrivateKey
) -> None:
    rsa_jwk = jwk_from_public_key(rsa2048.public_key())
    assert rsa_jwk["e"] == "AQAB"
    assert len(b64url_decode(str(rsa_jwk["n"]))) == 256
    ec_jwk = jwk_from_public_key(p521.public_key())
    assert len(b64url_decode(str(ec_jwk["x"]))) == 66
    assert len(b64url_decode(str(ec_jwk["y"]))) == 66


def test_it_refuses_extra_members_that_would_override_the_key(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    with pytest.raises(ValueError, match="override"):
        jwk_from_public_key(p256.public_key(), kty="RSA")


def test_it_reports_key_type_and_size(
    rsa3072: rsa.RSAPrivateKey,
    rsa4096: rsa.RSAPrivateKey,
    p256: ec.EllipticCurvePrivateKey,
    p384: ec.EllipticCurvePrivateKey,
) -> None:
    assert key_type_and_size(rsa3072.public_key()) == ("RSA", 3072)
    assert key_type_and_size(rsa4096) == ("RSA", 4096)
    assert key_type_and_size(p256.public_key()) == ("EC", 256)
    assert key_type_and_size(p384.public_key()) == ("EC", 384)


def test_it_refuses_unsupported_keys_and_curves() -> None:
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        key_type_and_size(ed25519.Ed25519PrivateKey.generate().public_key())
    k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        key_type_and_size(k1)
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        require_supported_public_key(k1)
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        thumbprint(k1)


def test_it_compares_keys_by_subject_public_key_info(
    p256: ec.EllipticCurvePrivateKey, other_p256: ec.EllipticCurvePrivateKey
) -> None:
    assert public_keys_equal(p256.public_key(), p256.public_key())
    assert not public_keys_equal(p256.public_key(), other_p256.public_key())
    assert spki_der(p256.public_key()).startswith(b"\x30")


def _rfc7638(**changes: Any) -> dict[str, Any]:
    jwk = {**vectors.RFC7638_JWK, **changes}
    return {k: v for k, v in jwk.items() if v is not None}


def _a3(**changes: Any) -> dict[str, Any]:
    jwk = {**vectors.RFC7515_A3_JWK, **changes}
    return {k: v for k, v in jwk.items() if v is not None}


def _small_rsa_jwk(rsa1024: rsa.RSAPrivateKey) -> dict[str, object]:
    return jwk_from_public_key(rsa1024.public_key())


@pytest.mark.parametrize(
    ("jwk", "why"),
    [
        (None, "not an object"),
        ([], "a list"),
        ({}, "no kty"),
        ({1: "RSA"}, "non-string member name"),
        (_rfc7638(kty="oct"), "symmetric key type"),
        (_rfc7638(kty="rsa"), "kty is case-sensitive"),
        (_rfc7638(n=None), "missing n"),
        (_rfc7638(e=123), "e not a string"),
        (_rfc7638(n=vectors.RFC7638_JWK["n"] + "="), "padded base64url"),
        (_rfc7638(n="AQAB"), "tiny modulus"),
        (_rfc7638(e="AAAA"), "zero exponent"),
        (_rfc7638(e="AQ"), "exponent 1"),
        (_rfc7638(e="AQAA"), "even exponent"),
        (_rfc7638(e=b64url_encode(b"\x01" + b"\x00" * 32 + b"\x01")), "exponent too large"),
        (_rfc7638(n=b64url_encode(b"\xff" * 1025)), "modulus too large"),
        (_rfc7638(n=b64url_encode(b"\xc2" * 256)), "even modulus"),
        (_rfc7638(n=""), "empty modulus"),
        (_a3(crv="P-192"), "unknown curve"),
        (_a3(crv=None), "missing crv"),
        (_a3(y=vectors.RFC7515_A3_JWK["x"]), "point not on the curve"),
        (_a3(x=b64url_encode(b"\x01" * 33)), "coordinate too long"),
        (_a3(x=None), "missing x"),
        (_a3(kty="OKP"), "OKP key type"),
    ],
)
def test_it_rejects_an_invalid_jwk(jwk: object, why: str) -> None:
    with raises_code(ErrorCode.JWK_INVALID):
        public_key_from_jwk(jwk)


def test_it_rejects_an_rsa_jwk_below_2048_bits(rsa1024: rsa.RSAPrivateKey) -> None:
    with raises_code(ErrorCode.JWK_INVALID):
        public_key_from_jwk(_small_rsa_jwk(rsa1024))


def test_it_rejects_an_ec_coordinate_outside_the_field() -> None:
    # x + p names the same residue; accepting it would give one key many encodings. On P-521
    # x + p still fits the 66-byte coordinate, so the length check alone cannot catch it.
    p = 2**521 - 1
    x = int.from_bytes(b64url_decode(vectors.RFC7515_A4_JWK["x"]), "big")
    shifted = {**vectors.RFC7515_A4_JWK, "x": b64url_encode((x + p).to_bytes(66, "big"))}
    with raises_code(ErrorCode.JWK_INVALID):
        public_key_from_jwk(shifted)


def test_it_accepts_ec_coordinates_with_a_sign_byte_or_stripped_zero() -> None:
    x = b64url_decode(vectors.RFC7515_A3_JWK["x"])
    padded = public_key_from_jwk(_a3(x=b64url_encode(b"\x00" + x)))
    assert public_keys_equal(padded, public_key_from_jwk(vectors.RFC7515_A3_JWK))
