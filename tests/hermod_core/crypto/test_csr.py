from __future__ import annotations

import base64
import textwrap

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID, NameOID

from hermod_core.crypto.csr import (
    make_dummy_csr,
    parse_csr_b64,
    parse_csr_der,
    rekey_csr,
    subjects_equal,
    verify_csr_signature,
)
from hermod_core.crypto.errors import ErrorCode
from hermod_core.crypto.jwk import PrivateKey, key_type_and_size, public_keys_equal

from . import vectors
from .helpers import raises_code

SEED_DER = base64.b64decode(vectors.SEED_DUMMY_CSR_B64)


def _pem(der: bytes, label: str = "CERTIFICATE REQUEST") -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


# --- The seed's real dummy CSR --------------------------------------------------------------


def test_it_parses_the_seed_dummy_csr_and_its_signature_verifies() -> None:
    parsed = parse_csr_b64(vectors.SEED_DUMMY_CSR_B64)
    assert parsed.signature_valid
    verify_csr_signature(parsed)
    assert parsed.subject_string == vectors.SEED_SUBJECT_RFC4514
    assert key_type_and_size(parsed.public_key) == ("RSA", 2048)
    assert parsed.der == SEED_DER


@pytest.mark.parametrize(
    "text",
    [
        _pem(SEED_DER),
        _pem(SEED_DER, "NEW CERTIFICATE REQUEST"),
        "\n".join(textwrap.wrap(vectors.SEED_DUMMY_CSR_B64, 76)),
        vectors.SEED_DUMMY_CSR_B64.rstrip("="),
        f"  {vectors.SEED_DUMMY_CSR_B64}\r\n",
    ],
)
def test_it_accepts_the_csr_as_pem_or_wrapped_base64(text: str) -> None:
    assert parse_csr_b64(text).der == SEED_DER


def test_make_dummy_csr_reproduces_the_seed_subject_byte_for_byte(
    rsa2048: rsa.RSAPrivateKey,
) -> None:
    seed = parse_csr_b64(vectors.SEED_DUMMY_CSR_B64)
    dummy = parse_csr_der(make_dummy_csr(vectors.SEED_SUBJECT_ATTRIBUTES, key=rsa2048))
    assert dummy.subject_der == seed.subject_der
    assert subjects_equal(dummy, seed)
    assert dummy.signature_valid


def test_make_dummy_csr_uses_a_fresh_rsa_2048_key_by_default() -> None:
    first = parse_csr_der(make_dummy_csr({"CN": "a"}))
    assert key_type_and_size(first.public_key) == ("RSA", 2048)
    assert first.signature_valid


# --- Re-keying: what the device does --------------------------------------------------------


@pytest.mark.parametrize("fixture", ["rsa2048", "rsa3072", "rsa4096", "p256", "p384"])
def test_a_rekeyed_seed_csr_verifies_with_the_new_key_and_the_same_subject(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    template = parse_csr_b64(vectors.SEED_DUMMY_CSR_B64)
    rekeyed = parse_csr_der(rekey_csr(vectors.SEED_DUMMY_CSR_B64, key))
    verify_csr_signature(rekeyed)
    assert public_keys_equal(rekeyed.public_key, key.public_key())
    assert not public_keys_equal(rekeyed.public_key, template.public_key)
    assert subjects_equal(rekeyed, template)
    assert rekeyed.subject_der == template.subject_der


def test_it_signs_a_p384_request_with_sha384_by_default(p384: ec.EllipticCurvePrivateKey) -> None:
    rekeyed = parse_csr_der(rekey_csr(SEED_DER, p384))
    assert isinstance(rekeyed.request.signature_hash_algorithm, hashes.SHA384)


def test_it_refuses_a_weak_hash_for_signing(rsa2048: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        rekey_csr(SEED_DER, rsa2048, hashes.SHA1())  # noqa: S303 - the point of the test


def test_rekey_carries_extensions_and_the_challenge_password(
    rsa2048: rsa.RSAPrivateKey, p256: ec.EllipticCurvePrivateKey
) -> None:
    san = x509.SubjectAlternativeName([x509.RFC822Name("anders@example.com")])
    template = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Anders")]))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b"s3cret", _tag=_ASN1Type.PrintableString)
        .add_attribute(AttributeOID.UNSTRUCTURED_NAME, b"device")
        .sign(rsa2048, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    rekeyed = parse_csr_der(rekey_csr(template, p256)).request
    assert rekeyed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == san
    assert rekeyed.extensions.get_extension_for_class(x509.BasicConstraints).critical
    password = rekeyed.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
    assert password.value == b"s3cret"
    assert password._type == _ASN1Type.PrintableString.value
    name = rekeyed.attributes.get_attribute_for_oid(AttributeOID.UNSTRUCTURED_NAME)
    assert name.value == b"device"


def test_make_dummy_csr_adds_a_challenge_password_the_device_copies(
    rsa2048: rsa.RSAPrivateKey, p256: ec.EllipticCurvePrivateKey
) -> None:
    template = make_dummy_csr({"CN": "x"}, challenge_password="otp-123", key=rsa2048)
    rekeyed = parse_csr_der(rekey_csr(template, p256)).request
    password = rekeyed.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
    assert password.value == b"otp-123"


# --- Subject comparison ---------------------------------------------------------------------


def test_it_detects_a_rekeyed_csr_with_a_different_subject(rsa2048: rsa.RSAPrivateKey) -> None:
    other = make_dummy_csr({**vectors.SEED_SUBJECT_ATTRIBUTES, "CN": "Mallory"}, key=rsa2048)
    answer = parse_csr_der(rekey_csr(other, rsa2048))
    assert answer.signature_valid
    assert not subjects_equal(answer, parse_csr_b64(vectors.SEED_DUMMY_CSR_B64))


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def test_subject_comparison_is_exact_on_values_and_order() -> None:
    base = _name((NameOID.COUNTRY_NAME, "SE"), (NameOID.COMMON_NAME, "Anders"))
    assert subjects_equal(
        base, _name((NameOID.COUNTRY_NAME, "SE"), (NameOID.COMMON_NAME, "Anders"))
    )
    assert not subjects_equal(
        base, _name((NameOID.COMMON_NAME, "Anders"), (NameOID.COUNTRY_NAME, "SE"))
    )
    assert not subjects_equal(
        base, _name((NameOID.COUNTRY_NAME, "SE"), (NameOID.COMMON_NAME, "anders"))
    )
    assert not subjects_equal(
        base, _name((NameOID.COUNTRY_NAME, "SE"), (NameOID.COMMON_NAME, "Anders "))
    )
    assert not subjects_equal(base, _name((NameOID.COUNTRY_NAME, "SE")))


def test_subject_comparison_ignores_the_asn1_string_type() -> None:
    ia5 = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b.se")])
    utf8 = x509.Name(
        [x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@b.se", _type=_ASN1Type.UTF8String)]
    )
    assert ia5.public_bytes() != utf8.public_bytes()
    assert subjects_equal(ia5, utf8)


def test_subject_comparison_treats_a_multi_valued_rdn_as_a_set() -> None:
    cn = x509.NameAttribute(NameOID.COMMON_NAME, "A")
    uid = x509.NameAttribute(NameOID.USER_ID, "1")
    one = x509.Name([x509.RelativeDistinguishedName([cn, uid])])
    other = x509.Name([x509.RelativeDistinguishedName([uid, cn])])
    split = x509.Name([x509.RelativeDistinguishedName([cn]), x509.RelativeDistinguishedName([uid])])
    assert subjects_equal(one, other)
    assert not subjects_equal(one, split)


# --- Rejections -----------------------------------------------------------------------------


def test_it_detects_a_tampered_csr_signature() -> None:
    tampered = SEED_DER.replace(b"Anders Wallbom", b"Anders Wallbon")
    parsed = parse_csr_der(tampered)
    assert not parsed.signature_valid
    with raises_code(ErrorCode.CSR_BAD_SIGNATURE):
        verify_csr_signature(parsed)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x30\x03\x02\x01\x00").decode(),
        vectors.SEED_CERTIFICATE_B64,
        vectors.SEED_DUMMY_CSR_B64[:-8],
        _pem(SEED_DER, "CERTIFICATE"),
        "A" * 70_000,
    ],
)
def test_it_rejects_text_that_is_not_a_csr(text: str) -> None:
    with raises_code(ErrorCode.CSR_INVALID):
        parse_csr_b64(text)


def test_it_rejects_a_csr_with_an_impossible_version() -> None:
    # cryptography raises its own InvalidVersion (not a ValueError) for this one.
    bad_version = SEED_DER.replace(b"\x02\x01\x00\x30\x81\x95", b"\x02\x01\x56\x30\x81\x95", 1)
    assert bad_version != SEED_DER
    with raises_code(ErrorCode.CSR_INVALID):
        parse_csr_der(bad_version)


def test_it_rejects_non_bytes_der() -> None:
    with raises_code(ErrorCode.CSR_INVALID):
        parse_csr_der("MII")  # type: ignore[arg-type]


def test_it_rejects_a_csr_with_an_unsupported_key_type() -> None:
    der = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name((NameOID.COMMON_NAME, "ed")))
        .sign(ed25519.Ed25519PrivateKey.generate(), None)
        .public_bytes(serialization.Encoding.DER)
    )
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        parse_csr_der(der)


@pytest.mark.parametrize(
    "subject",
    [{}, {"XX": "unknown"}, {"C": "SWE"}, {"CN": ""}],
)
def test_make_dummy_csr_rejects_a_bad_subject(
    subject: dict[str, str], rsa2048: rsa.RSAPrivateKey
) -> None:
    with raises_code(ErrorCode.CSR_INVALID):
        make_dummy_csr(subject, key=rsa2048)


def test_make_dummy_csr_accepts_an_x509_name(p256: ec.EllipticCurvePrivateKey) -> None:
    name = _name((NameOID.ORGANIZATION_NAME, "Nexus"), (NameOID.COMMON_NAME, "A"))
    assert parse_csr_der(make_dummy_csr(name, key=p256)).subject == name
