"""Replay fingerprints (crypto.signatures): one fingerprint per signature, whatever its encoding."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hermod_core.crypto import jws
from hermod_core.crypto.errors import CryptoError
from hermod_core.crypto.signatures import _ORDERS, signature_fingerprint

DATA = b"the signed attributes"


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_each_curve_order_is_the_curves(curve: ec.EllipticCurve) -> None:
    """A private value must be below the group order n: n - 1 is accepted, n is not."""
    order = _ORDERS[curve.name]
    assert order.bit_length() == curve.key_size
    ec.derive_private_key(order - 1, curve)
    with pytest.raises(ValueError, match="out of range"):
        ec.derive_private_key(order, curve)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_a_mirrored_ecdsa_signature_verifies_and_has_the_same_fingerprint(
    curve: ec.EllipticCurve,
) -> None:
    key = ec.generate_private_key(curve)
    signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(signature)
    mirrored = encode_dss_signature(r, _ORDERS[curve.name] - s)
    key.public_key().verify(mirrored, DATA, ec.ECDSA(hashes.SHA256()))  # ECDSA is malleable
    assert mirrored != signature
    assert signature_fingerprint(key.public_key(), mirrored, ecdsa_encoding="der") == (
        signature_fingerprint(key.public_key(), signature, ecdsa_encoding="der")
    )


def test_the_der_and_raw_encodings_of_one_ecdsa_signature_have_one_fingerprint(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    signature = p256.sign(DATA, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(signature)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    low_s = min(s, _ORDERS["secp256r1"] - s)
    canonical = r.to_bytes(32, "big") + low_s.to_bytes(32, "big")
    expected = hashlib.sha256(canonical).hexdigest()
    assert signature_fingerprint(p256.public_key(), signature, ecdsa_encoding="der") == expected
    assert signature_fingerprint(p256.public_key(), raw, ecdsa_encoding="raw") == expected


def test_a_jws_es256_signature_and_its_mirror_have_one_fingerprint(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    token = jws.sign_compact({"tbs": [], "nonce": "1"}, p256, "ES256")
    parsed = jws.parse_compact(token)
    r, s = (
        int.from_bytes(parsed.signature[:32], "big"),
        int.from_bytes(parsed.signature[32:], "big"),
    )
    mirrored = r.to_bytes(32, "big") + (_ORDERS["secp256r1"] - s).to_bytes(32, "big")
    assert signature_fingerprint(p256.public_key(), mirrored, ecdsa_encoding="raw") == (
        signature_fingerprint(p256.public_key(), parsed.signature, ecdsa_encoding="raw")
    )


def test_an_rsa_signature_is_its_own_canonical_form(rsa2048: rsa.RSAPrivateKey) -> None:
    signature = rsa2048.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    assert signature_fingerprint(rsa2048.public_key(), signature, ecdsa_encoding="der") == (
        hashlib.sha256(signature).hexdigest()
    )


def test_two_signatures_of_the_same_bytes_have_two_fingerprints(
    p256: ec.EllipticCurvePrivateKey,
) -> None:
    first = p256.sign(DATA, ec.ECDSA(hashes.SHA256()))
    second = p256.sign(DATA, ec.ECDSA(hashes.SHA256()))  # a fresh random k
    assert signature_fingerprint(p256.public_key(), first, ecdsa_encoding="der") != (
        signature_fingerprint(p256.public_key(), second, ecdsa_encoding="der")
    )


@pytest.mark.parametrize(("value", "encoding"), [(b"\x30\x00", "der"), (b"\x01" * 63, "raw")])
def test_an_ecdsa_value_that_does_not_parse_raises_a_crypto_error(
    p256: ec.EllipticCurvePrivateKey, value: bytes, encoding: str
) -> None:
    with pytest.raises(CryptoError):
        signature_fingerprint(p256.public_key(), value, ecdsa_encoding=encoding)  # type: ignore[arg-type]
