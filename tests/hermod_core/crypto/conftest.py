"""Keys and a CA shared by the whole crypto suite, generated once per session for speed.

These tests are pure: they need neither Django settings nor a database.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hermod_core.crypto.jwk import PrivateKey
from hermod_core.emulator import testca


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@pytest.fixture(scope="session")
def rsa2048() -> rsa.RSAPrivateKey:
    return _rsa(2048)


@pytest.fixture(scope="session")
def other_rsa2048() -> rsa.RSAPrivateKey:
    return _rsa(2048)


@pytest.fixture(scope="session")
def rsa3072() -> rsa.RSAPrivateKey:
    return _rsa(3072)


@pytest.fixture(scope="session")
def rsa4096() -> rsa.RSAPrivateKey:
    return _rsa(4096)


@pytest.fixture(scope="session")
def rsa1024() -> rsa.RSAPrivateKey:
    return _rsa(1024)


@pytest.fixture(scope="session")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def other_p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def p384() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def p521() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP521R1())


@pytest.fixture(scope="session")
def test_ca() -> tuple[PrivateKey, x509.Certificate]:
    return testca.make_self_signed_ca("Hermod Test CA")
