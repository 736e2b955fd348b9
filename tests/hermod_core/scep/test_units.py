"""Pure pieces of the SCEP client: capabilities, ciphers, CMS, identity, config, results."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hermod_core.scep import ciphers, cms
from hermod_core.scep.caps import parse_caps
from hermod_core.scep.ciphers import ContentCipher, choose_cipher
from hermod_core.scep.client import ScepConfig
from hermod_core.scep.csr import check_transaction_id, load_csr, transaction_id_for
from hermod_core.scep.errors import (
    ScepConfigError,
    ScepDeadlineError,
    ScepError,
    ScepProtocolError,
    ScepRejectedError,
    ScepTransientError,
)
from hermod_core.scep.identity import make_ra_identity
from hermod_core.scep.results import EnrollResult, PkiStatus
from tests.hermod_core.scep import ber, factories
from tests.hermod_core.scep.conftest import Keys

# --- capabilities and cipher choice ------------------------------------------------------------


def test_caps_are_parsed_case_insensitively_into_canonical_names() -> None:
    caps = parse_caps(b"postpkioperation\r\n  aes \n\nSha-256\nX-Vendor-Thing\n")

    assert caps == frozenset({"POSTPKIOperation", "AES", "SHA-256", "X-Vendor-Thing"})


@pytest.mark.parametrize("body", [b"", b"\n\n", b"\xff\xfe"])
def test_empty_or_garbage_caps_mean_no_options(body: bytes) -> None:
    assert parse_caps(body) == frozenset()


@pytest.mark.parametrize(
    ("caps", "cipher"),
    [
        ({"AES", "DES3"}, ContentCipher.AES_128_CBC),
        ({"SCEPStandard"}, ContentCipher.AES_128_CBC),
        ({"DES3", "POSTPKIOperation"}, ContentCipher.DES3_CBC),
        ({"POSTPKIOperation", "SHA-256"}, ContentCipher.DES_CBC),
        (set(), ContentCipher.DES_CBC),
    ],
)
def test_the_envelope_cipher_is_the_best_the_ca_advertises(
    caps: set[str], cipher: ContentCipher
) -> None:
    assert choose_cipher(frozenset(caps)) is cipher


def test_single_des_is_triple_des_with_one_key_repeated() -> None:
    # FIPS 46 / Stallings worked example: DES_K(0123456789ABCDEF) = 85E813540F0AB405.
    key = bytes.fromhex("133457799BBCDFF1")
    plaintext = bytes.fromhex("0123456789ABCDEF")

    ciphertext = ciphers.encrypt(ContentCipher.DES_CBC, key, bytes(8), plaintext)

    assert ciphertext[:8] == bytes.fromhex("85E813540F0AB405")
    assert ciphers.decrypt(ContentCipher.DES_CBC, key, bytes(8), ciphertext) == plaintext


@pytest.mark.parametrize("cipher", list(ContentCipher))
def test_an_envelope_round_trips_for_every_cipher(keys: Keys, cipher: ContentCipher) -> None:
    envelope = cms.build_enveloped_data(b"a CSR, say", keys.ra_cert, cipher)

    assert cms.open_enveloped_data(envelope, keys.ra_key, keys.ra_cert, "env") == b"a CSR, say"


def test_an_envelope_for_someone_else_is_refused(keys: Keys) -> None:
    envelope = cms.build_enveloped_data(b"secret", keys.other_ra_cert, ContentCipher.AES_128_CBC)

    with pytest.raises(ScepProtocolError) as raised:
        cms.open_enveloped_data(envelope, keys.ra_key, keys.ra_cert, "env")

    assert raised.value.code == "SCEP_NOT_A_RECIPIENT"


@pytest.mark.parametrize("indefinite", [True, False])
def test_a_ber_constructed_envelope_decrypts(keys: Keys, indefinite: bool) -> None:
    plaintext = bytes(range(256)) * 3
    envelope = ber.ber_enveloped(
        plaintext, keys.ra_cert, ContentCipher.DES_CBC, indefinite=indefinite
    )

    assert cms.open_enveloped_data(envelope, keys.ra_key, keys.ra_cert, "env") == plaintext


def test_nested_constructed_octet_strings_are_concatenated() -> None:
    # 24 80 { 04 02 "ab", 24 80 { 04 01 "c", 04 00 } 00 00, 04 01 "d" } 00 00
    encoded = bytes.fromhex("2480 04026162 2480 040163 0400 0000 040164 0000")
    value = core.OctetString.load(encoded, strict=False)

    assert cms.octets(value) == b"abcd"


def test_a_constructed_string_with_foreign_chunks_is_malformed() -> None:
    value = core.OctetString.load(bytes.fromhex("2480 0203010203 0000"), strict=False)

    with pytest.raises(ScepProtocolError):
        cms.octets(value)


def test_degenerate_certificates_round_trip(keys: Keys) -> None:
    bundle = factories.build_degenerate([keys.ca_cert, keys.ra_cert])

    assert cms.signed_data_certificates(bundle, "bundle") == (keys.ca_cert, keys.ra_cert)


def test_a_certificate_with_an_unknown_version_is_malformed(keys: Keys) -> None:
    good = factories.der(keys.ca_cert)
    bad = good[:12] + b"\x46" + good[13:]  # tbsCertificate.version := 70
    bundle = factories.build_degenerate([keys.ca_cert]).replace(good, bad)

    with pytest.raises(ScepProtocolError):
        cms.signed_data_certificates(bundle, "bundle")


def test_a_ber_degenerate_bundle_is_read(keys: Keys) -> None:
    bundle = ber.ber_degenerate([keys.ca_cert, keys.ra_cert], indefinite=True)

    assert cms.signed_data_certificates(bundle, "bundle") == (keys.ca_cert, keys.ra_cert)


# --- CSR and transaction id -------------------------------------------------------------------


def test_the_default_transaction_id_is_the_hex_sha256_of_the_csr_public_key(keys: Keys) -> None:
    csr = load_csr(factories.csr(keys.devices[0], "device"))
    spki = (
        keys.devices[0].public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )

    assert transaction_id_for(csr) == hashlib.sha256(spki).hexdigest().upper()


@pytest.mark.parametrize("bad", ["", "naïve", "under_score", "x" * 129, "a\nb"])
def test_a_transaction_id_must_be_printable(bad: str) -> None:
    with pytest.raises(ScepConfigError):
        check_transaction_id(bad)


def test_an_unparseable_csr_is_a_config_error() -> None:
    with pytest.raises(ScepConfigError) as raised:
        load_csr(b"\x30\x00")

    assert raised.value.code == "SCEP_BAD_CSR"


# --- RA identity and config -------------------------------------------------------------------


def test_make_ra_identity_makes_a_self_signed_rsa_2048_signing_and_encryption_cert() -> None:
    key, cert = make_ra_identity("Hermod RA for group default")

    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert cert.subject == cert.issuer == factories.name("Hermod RA for group default")
    cert.verify_directly_issued_by(cert)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    assert not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_config_refuses_an_ra_cert_of_another_key(keys: Keys) -> None:
    with pytest.raises(ScepConfigError) as raised:
        ScepConfig(url="http://ca.example/scep", ra_key=keys.ra_key, ra_cert=keys.other_ra_cert)

    assert raised.value.code == "SCEP_RA_MISMATCH"


@pytest.mark.parametrize("url", ["ftp://ca.example/scep", "ca.example/scep", ""])
def test_config_refuses_a_non_http_url(keys: Keys, url: str) -> None:
    with pytest.raises(ScepConfigError):
        ScepConfig(url=url, ra_key=keys.ra_key, ra_cert=keys.ra_cert)


def test_config_repr_hides_the_key_and_the_challenge(keys: Keys) -> None:
    config = ScepConfig(
        url="http://ca.example/scep",
        ra_key=keys.ra_key,
        ra_cert=keys.ra_cert,
        challenge_password="hunter2",
    )

    assert "hunter2" not in repr(config)
    assert "RSAPrivateKey" not in repr(config)


# --- results and errors -----------------------------------------------------------------------


def test_raise_for_failure_raises_only_on_failure() -> None:
    pending = EnrollResult(status=PkiStatus.PENDING, transaction_id="T")
    failed = EnrollResult(status=PkiStatus.FAILURE, transaction_id="T", fail_info="badTime")

    assert pending.raise_for_failure() is pending
    with pytest.raises(ScepRejectedError) as raised:
        failed.raise_for_failure()

    assert (raised.value.fail_info, raised.value.transaction_id) == ("badTime", "T")


def test_only_transient_errors_are_retryable() -> None:
    errors: list[ScepError] = [
        ScepTransientError("X", "x"),
        ScepRejectedError("x", fail_info=None, transaction_id="T"),
        ScepProtocolError("X", "x"),
        ScepConfigError("X", "x"),
        ScepDeadlineError("x", transaction_id="T"),
    ]

    assert [e.retryable for e in errors] == [True, False, False, False, False]
    assert all(isinstance(e, ScepError) for e in errors)
