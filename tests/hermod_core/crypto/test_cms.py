from __future__ import annotations

import base64
import hashlib
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from hermod_core.crypto.cms import MAX_CMS_BYTES, sign_data, verify_signed_data
from hermod_core.crypto.csr import make_dummy_csr
from hermod_core.crypto.errors import ErrorCode
from hermod_core.crypto.jwk import PrivateKey, public_keys_equal
from hermod_core.emulator import testca

from .cms_builder import CmsSpec, build_cms, pss_parameters, to_ber, utc_time
from .helpers import raises_code

# docs/PROTOCOL.md §6.3: the device signs the decoded tbs data.
TBS = b"Transfer 500 EUR to SE45 5000 0000 0583 9825 7466\n"


def _certificate(key: PrivateKey, test_ca: tuple[PrivateKey, x509.Certificate]) -> x509.Certificate:
    ca_key, ca_cert = test_ca
    return testca.issue_certificate(make_dummy_csr({"CN": "signer"}, key=key), ca_key, ca_cert)


@pytest.fixture(scope="module")
def rsa_cert(
    rsa2048: rsa.RSAPrivateKey, test_ca: tuple[PrivateKey, x509.Certificate]
) -> x509.Certificate:
    return _certificate(rsa2048, test_ca)


@pytest.fixture(scope="module")
def p256_cert(
    p256: ec.EllipticCurvePrivateKey, test_ca: tuple[PrivateKey, x509.Certificate]
) -> x509.Certificate:
    return _certificate(p256, test_ca)


@pytest.fixture(scope="module")
def p384_cert(
    p384: ec.EllipticCurvePrivateKey, test_ca: tuple[PrivateKey, x509.Certificate]
) -> x509.Certificate:
    return _certificate(p384, test_ca)


@pytest.fixture(scope="module")
def other_rsa_cert(
    other_rsa2048: rsa.RSAPrivateKey, test_ca: tuple[PrivateKey, x509.Certificate]
) -> x509.Certificate:
    return _certificate(other_rsa2048, test_ca)


def _flip_last_byte(der: bytes) -> bytes:
    return der[:-1] + bytes([der[-1] ^ 0x01])


# --- What cryptography's PKCS7SignatureBuilder produces (signed attributes) ------------------


@pytest.mark.parametrize("detached", [True, False])
def test_it_verifies_an_rsa_signature_from_the_cryptography_builder(
    detached: bool, rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert, detached=detached)
    verified = verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS)
    assert verified.content == TBS
    assert verified.has_signed_attributes
    assert verified.digest_algorithm == "sha256"
    assert verified.content_type == "1.2.840.113549.1.7.1"
    assert verified.signer_certificate == rsa_cert


def test_it_returns_attached_content_when_the_caller_passes_none(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert, detached=False)
    assert verify_signed_data(der, expected_key=rsa2048.public_key(), content=None).content == TBS


@pytest.mark.parametrize(
    ("fixture", "cert_fixture", "hash_alg"),
    [
        ("p256", "p256_cert", hashes.SHA256()),
        ("p384", "p384_cert", hashes.SHA384()),
        ("rsa2048", "rsa_cert", hashes.SHA512()),
    ],
)
def test_it_verifies_ecdsa_and_other_digests_from_the_builder(
    fixture: str,
    cert_fixture: str,
    hash_alg: hashes.SHA256 | hashes.SHA384 | hashes.SHA512,
    request: pytest.FixtureRequest,
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    certificate: x509.Certificate = request.getfixturevalue(cert_fixture)
    for detached in (True, False):
        der = sign_data(TBS, key, certificate, detached=detached, hash_alg=hash_alg)
        verified = verify_signed_data(der, expected_key=key.public_key(), content=TBS)
        assert verified.digest_algorithm == hash_alg.name


def test_it_verifies_rsa_pss_from_the_builder(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert, rsa_pss=True, hash_alg=hashes.SHA384())
    assert verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS).content == TBS


def test_it_accepts_base64_wrapped_or_pem_text(
    p256: ec.EllipticCurvePrivateKey, p256_cert: x509.Certificate
) -> None:
    b64 = base64.b64encode(sign_data(TBS, p256, p256_cert)).decode()
    wrapped = "\n".join(textwrap.wrap(b64, 64))
    pem = f"-----BEGIN PKCS7-----\n{wrapped}\n-----END PKCS7-----\n"
    for text in (b64, wrapped, pem):
        verify_signed_data(text, expected_key=p256.public_key(), content=TBS)


def test_it_verifies_ber_with_indefinite_lengths_and_chunked_content(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    # Streaming encoders (BouncyCastle, common in Android apps) write attached content like this.
    for der in (
        sign_data(TBS, rsa2048, rsa_cert, detached=False),
        build_cms(CmsSpec(TBS, rsa2048, rsa_cert)),
    ):
        ber = to_ber(der)
        assert ber.startswith(b"\x30\x80")
        assert b"\x24\x80" in ber
        verified = verify_signed_data(ber, expected_key=rsa2048.public_key(), content=None)
        assert verified.content == TBS


# --- Hand-built shapes: no signed attributes, SKI signer id, unsorted attributes -------------


@pytest.mark.parametrize("detached", [True, False])
@pytest.mark.parametrize("fixture", ["rsa2048", "p256"])
def test_it_verifies_a_signature_without_signed_attributes(
    detached: bool, fixture: str, request: pytest.FixtureRequest
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    certificate = request.getfixturevalue("rsa_cert" if fixture == "rsa2048" else "p256_cert")
    der = build_cms(CmsSpec(TBS, key, certificate, detached=detached))
    verified = verify_signed_data(der, expected_key=key.public_key(), content=TBS)
    assert verified.content == TBS
    assert not verified.has_signed_attributes


def test_it_finds_the_signer_by_subject_key_identifier(
    p256: ec.EllipticCurvePrivateKey,
    p256_cert: x509.Certificate,
    rsa_cert: x509.Certificate,
) -> None:
    spec = CmsSpec(
        TBS,
        p256,
        p256_cert,
        sid="subject_key_identifier",
        signed_attributes=True,
        extra_certificates=[rsa_cert],
    )
    verified = verify_signed_data(build_cms(spec), expected_key=p256.public_key(), content=TBS)
    assert verified.signer_certificate == p256_cert


def test_it_accepts_signed_attributes_in_the_order_the_signer_sent(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(TBS, rsa2048, rsa_cert, signed_attributes=True, unsorted_attributes=True)
    verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_verifies_hand_built_rsa_pss_with_explicit_parameters(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(
        TBS,
        rsa2048,
        rsa_cert,
        signature_algorithm="rsassa_pss",
        signature_parameters=pss_parameters("sha256", 32),
        pss_salt_length=32,
    )
    verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


# --- Wrong key, wrong content, tampering -----------------------------------------------------


def test_it_rejects_a_signature_by_another_key(
    rsa2048: rsa.RSAPrivateKey, other_rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert)
    with raises_code(ErrorCode.CMS_WRONG_KEY):
        verify_signed_data(der, expected_key=other_rsa2048.public_key(), content=TBS)


def test_it_rejects_a_certificate_for_another_key_even_if_the_signature_is_ours(
    rsa2048: rsa.RSAPrivateKey, other_rsa_cert: x509.Certificate
) -> None:
    der = build_cms(CmsSpec(TBS, rsa2048, other_rsa_cert))
    with raises_code(ErrorCode.CMS_WRONG_KEY):
        verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_a_detached_signature_over_other_content(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert)
    with raises_code(ErrorCode.CMS_CONTENT_MISMATCH):
        verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS + b"0")


def test_it_rejects_attached_content_that_is_not_the_expected_content(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert, detached=False)
    with raises_code(ErrorCode.CMS_CONTENT_MISMATCH):
        verify_signed_data(der, expected_key=rsa2048.public_key(), content=b"something else")


def test_it_rejects_tampered_attached_content(
    p256: ec.EllipticCurvePrivateKey, p256_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, p256, p256_cert, detached=False)
    tampered = der.replace(b"500 EUR", b"900 EUR")
    assert tampered != der
    with raises_code(ErrorCode.CMS_CONTENT_MISMATCH):
        verify_signed_data(tampered, expected_key=p256.public_key(), content=None)


def test_it_rejects_tampered_content_without_signed_attributes(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = build_cms(CmsSpec(TBS, rsa2048, rsa_cert)).replace(b"500 EUR", b"900 EUR")
    with raises_code(ErrorCode.CMS_BAD_SIGNATURE):
        verify_signed_data(der, expected_key=rsa2048.public_key(), content=None)
    detached = build_cms(CmsSpec(TBS, rsa2048, rsa_cert, detached=True))
    with raises_code(ErrorCode.CMS_BAD_SIGNATURE):
        verify_signed_data(detached, expected_key=rsa2048.public_key(), content=b"other")


@pytest.mark.parametrize("fixture", ["rsa2048", "p256"])
def test_it_rejects_a_tampered_signature(fixture: str, request: pytest.FixtureRequest) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    certificate = request.getfixturevalue("rsa_cert" if fixture == "rsa2048" else "p256_cert")
    for der in (
        sign_data(TBS, key, certificate),
        build_cms(CmsSpec(TBS, key, certificate)),
    ):
        with raises_code(ErrorCode.CMS_BAD_SIGNATURE):
            verify_signed_data(_flip_last_byte(der), expected_key=key.public_key(), content=TBS)


def test_it_rejects_a_message_digest_of_other_content(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(TBS, rsa2048, rsa_cert, signed_attributes=True, message_digest_of=b"other")
    with raises_code(ErrorCode.CMS_CONTENT_MISMATCH):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_requires_content_for_a_detached_signature(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(
            sign_data(TBS, rsa2048, rsa_cert), expected_key=rsa2048.public_key(), content=None
        )


# --- Signer identification ------------------------------------------------------------------


def test_it_rejects_a_cms_without_the_signer_certificate(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate, other_rsa_cert: x509.Certificate
) -> None:
    for spec in (
        CmsSpec(TBS, rsa2048, rsa_cert, include_certificate=False),
        CmsSpec(TBS, rsa2048, rsa_cert, include_certificate=False, extra_certificates=[
            other_rsa_cert
        ]),
        CmsSpec(TBS, rsa2048, rsa_cert, include_certificate=False, sid="subject_key_identifier"),
    ):  # fmt: skip
        with raises_code(ErrorCode.CMS_SIGNER_NOT_FOUND):
            verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


# --- Unsupported and malformed structures ---------------------------------------------------


@pytest.mark.parametrize("digest", ["sha1", "md5", "sha224"])
def test_it_rejects_weak_or_unexpected_digests(
    digest: str, rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = build_cms(CmsSpec(TBS, rsa2048, rsa_cert, digest=digest))
    with raises_code(ErrorCode.CMS_UNSUPPORTED):
        verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS)


@pytest.mark.parametrize(
    ("algorithm", "parameters"),
    [
        ("sha384_rsa", None),  # names another hash than the digestAlgorithm
        ("sha256_dsa", None),
        ("ed25519", None),
        ("rsassa_pss", pss_parameters("sha256", 32, mgf_digest="sha1")),
        ("rsassa_pss", pss_parameters("sha512", 32)),
    ],
)
def test_it_rejects_unsupported_or_inconsistent_signature_algorithms(
    algorithm: str,
    parameters: object,
    rsa2048: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
) -> None:
    spec = CmsSpec(
        TBS, rsa2048, rsa_cert, signature_algorithm=algorithm, signature_parameters=parameters
    )
    with raises_code(ErrorCode.CMS_UNSUPPORTED):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_an_ecdsa_algorithm_on_an_rsa_key(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(TBS, rsa2048, rsa_cert, signature_algorithm="sha256_ecdsa")
    with raises_code(ErrorCode.CMS_BAD_SIGNATURE):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_more_than_one_signer(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = build_cms(CmsSpec(TBS, rsa2048, rsa_cert, signers=2))
    with raises_code(ErrorCode.CMS_UNSUPPORTED):
        verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS)


@pytest.mark.parametrize(
    "attributes",
    [
        [{"type": "content_type", "values": ["data"]}],
        [{"type": "message_digest", "values": [b"\x00" * 32]}],
        [
            {"type": "content_type", "values": ["data", "data"]},
            {"type": "message_digest", "values": [b"\x00" * 32]},
        ],
    ],
)
def test_it_rejects_signed_attributes_without_exactly_one_type_and_digest(
    attributes: list[dict[str, object]],
    rsa2048: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
) -> None:
    spec = CmsSpec(
        TBS, rsa2048, rsa_cert, signed_attributes=True, attributes_override=list(attributes)
    )
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_a_content_type_attribute_that_differs(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(
        TBS,
        rsa2048,
        rsa_cert,
        signed_attributes=True,
        attributes_override=[
            {"type": "content_type", "values": ["signed_data"]},
            {"type": "message_digest", "values": [hashlib.sha256(TBS).digest()]},
        ],
    )
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


# --- signingTime (RFC 5652 §11.3) and the signature value: what binds an answer (§6.3) -------

SIGNED_AT = datetime(2026, 11, 29, 12, 30, 5, tzinfo=UTC)


def test_the_builders_signature_carries_the_current_signing_time(
    p256: ec.EllipticCurvePrivateKey, p256_cert: x509.Certificate
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    verified = verify_signed_data(
        sign_data(TBS, p256, p256_cert), expected_key=p256.public_key(), content=TBS
    )
    assert verified.signing_time is not None
    assert before <= verified.signing_time <= datetime.now(UTC)


@pytest.mark.parametrize("fixture", ["rsa2048", "p256"])
@pytest.mark.parametrize(
    "signing_time", [SIGNED_AT, datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC)], ids=["utc", "gen"]
)
def test_sign_data_signs_the_signing_time_it_is_given(
    fixture: str, signing_time: datetime, request: pytest.FixtureRequest
) -> None:
    key: PrivateKey = request.getfixturevalue(fixture)
    certificate = request.getfixturevalue("rsa_cert" if fixture == "rsa2048" else "p256_cert")
    der = sign_data(TBS, key, certificate, signing_time=signing_time, detached=False)
    verified = verify_signed_data(der, expected_key=key.public_key(), content=TBS)
    assert verified.signing_time == signing_time
    assert verified.content == TBS


def test_sign_data_without_signed_attributes_signs_the_content_itself(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert, signed_attributes=False)
    verified = verify_signed_data(der, expected_key=rsa2048.public_key(), content=TBS)
    assert not verified.has_signed_attributes
    assert verified.signing_time is None
    rsa2048.public_key().verify(verified.signature, TBS, padding.PKCS1v15(), hashes.SHA256())


def test_it_returns_the_signed_signing_time_and_the_signature_value(
    p256: ec.EllipticCurvePrivateKey, p256_cert: x509.Certificate
) -> None:
    spec = CmsSpec(TBS, p256, p256_cert, signed_attributes=True, signing_time=SIGNED_AT)
    der = build_cms(spec)
    verified = verify_signed_data(der, expected_key=p256.public_key(), content=TBS)
    assert verified.signing_time == SIGNED_AT
    signer = asn1_cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    assert verified.signature == bytes(signer["signature"])


def test_signed_attributes_without_signing_time_have_none(
    p256: ec.EllipticCurvePrivateKey, p256_cert: x509.Certificate
) -> None:
    spec = CmsSpec(TBS, p256, p256_cert, signed_attributes=True)
    verified = verify_signed_data(build_cms(spec), expected_key=p256.public_key(), content=TBS)
    assert verified.has_signed_attributes
    assert verified.signing_time is None


@pytest.mark.parametrize(
    "signing_time",
    [
        {"type": "signing_time", "values": [utc_time(SIGNED_AT), utc_time(SIGNED_AT)]},
        {"type": "signing_time", "values": []},
    ],
    ids=["two values", "no value"],
)
def test_it_rejects_a_signing_time_without_exactly_one_value(
    signing_time: dict[str, object], rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(
        TBS,
        rsa2048,
        rsa_cert,
        signed_attributes=True,
        attributes_override=[
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [hashlib.sha256(TBS).digest()]},
            signing_time,
        ],
    )
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_two_signing_time_attributes(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    """Which of two times would count? Neither: RFC 5652 §11.3 allows one attribute."""
    spec = CmsSpec(
        TBS,
        rsa2048,
        rsa_cert,
        signed_attributes=True,
        attributes_override=[
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [hashlib.sha256(TBS).digest()]},
            {"type": "signing_time", "values": [utc_time(SIGNED_AT)]},
            {"type": "signing_time", "values": [utc_time(SIGNED_AT + timedelta(days=1))]},
        ],
    )
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(build_cms(spec), expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_a_signing_time_that_is_not_a_time(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    spec = CmsSpec(TBS, rsa2048, rsa_cert, signed_attributes=True, signing_time=SIGNED_AT)
    der = build_cms(spec)
    encoded = b"\x17\x0d" + SIGNED_AT.strftime("%y%m%d%H%M%SZ").encode()
    assert der.count(encoded) == 1
    # Same length, not a time: the signature is over other bytes now, but the time is read first.
    broken = der.replace(encoded, b"\x17\x0d" + b"not-a-time-Z!")
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(broken, expected_key=rsa2048.public_key(), content=TBS)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "not base64",
        base64.b64encode(b"\x30\x00").decode(),
        base64.b64encode(
            asn1_cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
        ).decode(),
        b"",
        b"\x30\x80\x00\x00",
        b"\x30" * 100,
    ],
)
def test_it_rejects_data_that_is_not_signed_data(
    data: str | bytes, rsa2048: rsa.RSAPrivateKey
) -> None:
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(data, expected_key=rsa2048.public_key(), content=TBS)


def test_it_rejects_trailing_garbage_and_oversized_input(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, rsa2048, rsa_cert)
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(der + b"\x00", expected_key=rsa2048.public_key(), content=TBS)
    with raises_code(ErrorCode.CMS_INVALID):
        verify_signed_data(
            b"\x30" * (MAX_CMS_BYTES + 1), expected_key=rsa2048.public_key(), content=TBS
        )


def test_it_refuses_an_unsupported_expected_key(
    rsa2048: rsa.RSAPrivateKey, rsa_cert: x509.Certificate
) -> None:
    with raises_code(ErrorCode.KEY_UNSUPPORTED):
        verify_signed_data(
            sign_data(TBS, rsa2048, rsa_cert),
            expected_key=ed25519.Ed25519PrivateKey.generate().public_key(),  # type: ignore[arg-type]
            content=TBS,
        )


def test_the_returned_certificate_certifies_the_expected_key(
    p384: ec.EllipticCurvePrivateKey, p384_cert: x509.Certificate
) -> None:
    der = sign_data(TBS, p384, p384_cert, hash_alg=hashes.SHA384(), detached=False)
    verified = verify_signed_data(der, expected_key=p384.public_key(), content=TBS)
    certified = verified.signer_certificate.public_key()
    assert isinstance(certified, ec.EllipticCurvePublicKey)
    assert public_keys_equal(certified, p384.public_key())
