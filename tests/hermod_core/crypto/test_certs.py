from __future__ import annotations

import base64
import datetime as dt
import textwrap

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hermod_core.crypto.certs import (
    certificate_matches_key,
    parse_certificate_b64,
    parse_certificate_der,
)
from hermod_core.crypto.csr import (
    default_hash,
    make_dummy_csr,
    parse_csr_b64,
    rekey_csr,
    subjects_equal,
)
from hermod_core.crypto.errors import ErrorCode
from hermod_core.crypto.jwk import PrivateKey, key_type_and_size
from hermod_core.emulator import testca

from . import vectors
from .helpers import raises_code

SEED_DER = base64.b64decode(vectors.SEED_CERTIFICATE_B64)


def test_it_parses_the_seed_certificate() -> None:
    parsed = parse_certificate_b64(vectors.SEED_CERTIFICATE_B64)
    assert parsed.subject == vectors.SEED_SUBJECT_RFC4514
    assert parsed.issuer == vectors.SEED_CERTIFICATE_ISSUER_RFC4514
    assert parsed.serial_number == vectors.SEED_CERTIFICATE_SERIAL
    assert parsed.not_before == vectors.SEED_CERTIFICATE_NOT_BEFORE
    assert parsed.not_after == vectors.SEED_CERTIFICATE_NOT_AFTER
    assert parsed.not_before.tzinfo is not None
    assert parsed.not_before.utcoffset() == dt.timedelta(0)
    assert parsed.sha256_fingerprint == vectors.SEED_CERTIFICATE_SHA256
    assert parsed.der == SEED_DER
    assert key_type_and_size(parsed.public_key) == ("RSA", 2048)


def test_the_seed_certificate_names_the_template_subject_but_certifies_the_device_key() -> None:
    # The documented flow: the dummy CSR's key is thrown away, the device's key is certified.
    certificate = parse_certificate_b64(vectors.SEED_CERTIFICATE_B64)
    template = parse_csr_b64(vectors.SEED_DUMMY_CSR_B64)
    assert subjects_equal(certificate.certificate.subject, template)
    assert not certificate_matches_key(certificate, template.public_key)
    assert certificate_matches_key(certificate, certificate.public_key)


def test_it_accepts_the_certificate_as_pem() -> None:
    body = "\n".join(textwrap.wrap(vectors.SEED_CERTIFICATE_B64, 64))
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    assert parse_certificate_b64(pem).der == SEED_DER


@pytest.mark.parametrize("fixture", ["rsa2048", "p256", "p384"])
def test_a_test_ca_certificate_matches_the_key_it_was_issued_for(
    fixture: str,
    request: pytest.FixtureRequest,
    test_ca: tuple[PrivateKey, x509.Certificate],
    other_p256: ec.EllipticCurvePrivateKey,
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    ca_key, ca_cert = test_ca
    issued = testca.issue_certificate(rekey_csr(vectors.SEED_DUMMY_CSR_B64, key), ca_key, ca_cert)
    der = issued.public_bytes(serialization.Encoding.DER)
    parsed = parse_certificate_b64(base64.b64encode(der).decode())
    assert certificate_matches_key(parsed, key.public_key())
    assert certificate_matches_key(issued, key.public_key())
    assert not certificate_matches_key(parsed, other_p256.public_key())
    assert parsed.subject == vectors.SEED_SUBJECT_RFC4514
    assert parsed.issuer == "CN=Hermod Test CA"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "%%%",
        vectors.SEED_DUMMY_CSR_B64,
        vectors.SEED_CERTIFICATE_B64[:-12],
        base64.b64encode(SEED_DER + b"\x00").decode(),
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
    ],
)
def test_it_rejects_text_that_is_not_a_certificate(text: str) -> None:
    with raises_code(ErrorCode.CERT_INVALID):
        parse_certificate_b64(text)


def test_it_rejects_a_certificate_with_an_impossible_version() -> None:
    bad_version = SEED_DER.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x56", 1)
    assert bad_version != SEED_DER
    with raises_code(ErrorCode.CERT_INVALID):
        parse_certificate_der(bad_version)


def test_it_rejects_non_bytes_der() -> None:
    with raises_code(ErrorCode.CERT_INVALID):
        parse_certificate_der(vectors.SEED_CERTIFICATE_B64)  # type: ignore[arg-type]


def test_it_rejects_a_certificate_with_an_unsupported_key(
    test_ca: tuple[PrivateKey, x509.Certificate],
) -> None:
    ca_key, ca_cert = test_ca
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_cert.subject)
        .issuer_name(ca_cert.subject)
        .public_key(ed25519.Ed25519PrivateKey.generate().public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, default_hash(ca_key))
    )
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        parse_certificate_der(certificate.public_bytes(serialization.Encoding.DER))
    assert not certificate_matches_key(certificate, ca_key.public_key())


# --- The test CA itself ---------------------------------------------------------------------


def test_the_test_ca_is_a_self_signed_ca(test_ca: tuple[PrivateKey, x509.Certificate]) -> None:
    ca_key, ca_cert = test_ca
    assert ca_cert.subject == ca_cert.issuer
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ca_cert.verify_directly_issued_by(ca_cert)
    assert certificate_matches_key(ca_cert, ca_key.public_key())


def test_the_test_ca_issues_end_entity_certificates_it_signed(
    test_ca: tuple[PrivateKey, x509.Certificate], rsa2048: rsa.RSAPrivateKey
) -> None:
    ca_key, ca_cert = test_ca
    issued = testca.issue_certificate(make_dummy_csr({"CN": "e"}, key=rsa2048), ca_key, ca_cert, 7)
    issued.verify_directly_issued_by(ca_cert)
    assert not issued.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = issued.not_valid_after_utc - issued.not_valid_before_utc
    assert dt.timedelta(days=7) < lifetime <= dt.timedelta(days=7, minutes=6)


def test_the_test_ca_refuses_a_csr_whose_signature_fails(
    test_ca: tuple[PrivateKey, x509.Certificate],
) -> None:
    ca_key, ca_cert = test_ca
    tampered = base64.b64decode(vectors.SEED_DUMMY_CSR_B64).replace(b"Sto", b"Sth")
    with raises_code(ErrorCode.CSR_BAD_SIGNATURE):
        testca.issue_certificate(tampered, ca_key, ca_cert)


def test_the_test_ca_can_use_an_rsa_key(rsa3072: rsa.RSAPrivateKey) -> None:
    key, certificate = testca.make_self_signed_ca("RSA CA", key=rsa3072, days=1)
    assert key is rsa3072
    certificate.verify_directly_issued_by(certificate)
