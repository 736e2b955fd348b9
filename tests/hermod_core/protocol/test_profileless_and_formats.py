"""Issue 11 with fixed vectors: answers to profile-less ``@tmp`` commands verified against the
certificate they carry (PKCS#7 signer certificate, JWS ``x5c``), raw PKCS#1 signatures, xmldsig
recorded NOT_VERIFIED_BY_SERVER, signer chains, the parsing of the new bodies, and the
destinations' progress in the result body."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hermod_core.crypto import jws
from hermod_core.crypto.chains import verify_signer_chain
from hermod_core.crypto.cms import sign_data
from hermod_core.crypto.digests import b64url_sha256
from hermod_core.crypto.jwk import PrivateKey, jwk_from_public_key, thumbprint
from hermod_core.emulator.testca import issue_certificate, make_self_signed_ca
from hermod_core.protocol.answers import (
    NOT_VERIFIED_BY_SERVER,
    VERIFIED,
    AnswerRejected,
    SigningKey,
    parse_envelope,
    validate_profileless_signature,
    validate_signature,
)
from hermod_core.protocol.commands import parse_command_request
from hermod_core.protocol.errors import ProtocolError
from hermod_core.protocol.results import DestinationView

TBS = (b"Pay 100 EUR", b"\x00\x01")
COMMAND_ID = 18093
CREATED = datetime.now(UTC).replace(microsecond=0)
NOW = CREATED + timedelta(minutes=2)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
CA_KEY, CA_CERT = make_self_signed_ca("Signer CA")


def _issued(key: PrivateKey) -> x509.Certificate:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Anna Signer")]))
        .sign(key, hashes.SHA256())
    )
    return issue_certificate(csr.public_bytes(serialization.Encoding.DER), CA_KEY, CA_CERT)


SIGNER_CERT = _issued(RSA_KEY)


def _envelope(data: str, contenttype: str) -> Any:
    raw = {
        "responseHeader": {"inReplyTo": "https://hermod.example/ms/b/m", "status": 200},
        "signResponse": {"code": 0, "result": {"contenttype": contenttype, "data": data}},
    }
    return parse_envelope(raw, "signResponse")


def _profileless(data: str, format_: str) -> Any:
    return validate_profileless_signature(
        _envelope(data, format_),
        command_id=COMMAND_ID,
        tbs=TBS,
        format_=format_,
        created_at=CREATED,
        now=NOW,
    )


def _pkcs7(key: PrivateKey = RSA_KEY, certificate: x509.Certificate = SIGNER_CERT) -> str:
    der = sign_data(b"".join(TBS), key, certificate, signing_time=CREATED + timedelta(seconds=5))
    return base64.b64encode(der).decode()


def _jws(nonce: object, *, x5c: list[str] | None = None, key: PrivateKey = RSA_KEY) -> str:
    header: dict[str, Any] = {"kid": "signer"}
    if x5c is not None:
        header["x5c"] = x5c
    payload = {"tbs": [b64url_sha256(t) for t in TBS], "nonce": nonce}
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return jws.sign_compact(payload, key, alg, header)


def _b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


# --- profile-less answers ------------------------------------------------------------------------


def test_a_profileless_pkcs7_verifies_against_its_own_signer_certificate() -> None:
    result = _profileless(_pkcs7(), "pkcs7")
    assert result.verification == VERIFIED
    assert result.certificate == SIGNER_CERT
    assert result.signer == thumbprint(RSA_KEY.public_key())


def test_a_profileless_pkcs7_outside_the_commands_life_is_refused() -> None:
    der = sign_data(b"".join(TBS), RSA_KEY, SIGNER_CERT, signing_time=CREATED - timedelta(hours=1))
    with pytest.raises(AnswerRejected) as rejected:
        _profileless(base64.b64encode(der).decode(), "pkcs7")
    assert rejected.value.code == "SIGNING_TIME_OUT_OF_RANGE"


def test_a_profileless_jws_verifies_with_its_x5c_certificate_and_names_the_command() -> None:
    result = _profileless(_jws(str(COMMAND_ID), x5c=[_b64(SIGNER_CERT), _b64(CA_CERT)]), "jws")
    assert result.intermediates == (CA_CERT,)
    with pytest.raises(AnswerRejected) as rejected:
        _profileless(_jws(str(COMMAND_ID + 1), x5c=[_b64(SIGNER_CERT)]), "jws")
    assert rejected.value.code == "NONCE_MISMATCH"


@pytest.mark.parametrize(
    ("x5c", "code"),
    [
        (None, "SIGNER_CERTIFICATE_MISSING"),
        (["not a certificate"], "SIGNER_CERTIFICATE_INVALID"),
        ([_b64(CA_CERT)], "SIGNATURE_JWS_ALG_KEY_MISMATCH"),  # another key's certificate
    ],
)
def test_a_profileless_jws_without_its_own_certificate_is_refused(
    x5c: list[str] | None, code: str
) -> None:
    with pytest.raises(AnswerRejected) as rejected:
        _profileless(_jws(str(COMMAND_ID), x5c=x5c), "jws")
    assert rejected.value.code == code


def test_a_profileless_xmldsig_is_accepted_but_never_claimed_verified() -> None:
    result = _profileless(base64.b64encode(b"<ds:Signature/>").decode(), "xmldsig")
    assert result.verification == NOT_VERIFIED_BY_SERVER
    assert result.certificate is None


# --- raw and xmldsig with a profile ------------------------------------------------------------


def _raw(key: rsa.RSAPrivateKey = RSA_KEY, content: bytes = b"".join(TBS)) -> str:
    return base64.b64encode(key.sign(content, padding.PKCS1v15(), hashes.SHA256())).decode()


def _with_profile(data: str, format_: str, key: PrivateKey = RSA_KEY, **extra: Any) -> Any:
    return validate_signature(
        _envelope(data, format_),
        command_id=COMMAND_ID,
        tbs=TBS,
        format_=format_,
        candidates=(SigningKey("signer", jwk_from_public_key(key.public_key())),),
        created_at=CREATED,
        now=NOW,
        **extra,
    )


def test_a_raw_pkcs1_signature_by_the_profile_key_is_verified() -> None:
    verified = _with_profile(_raw(), "raw")
    assert (verified.keyid, verified.verification) == ("signer", VERIFIED)


@pytest.mark.parametrize(
    ("data", "extra", "code"),
    [
        (_raw(content=b"something else"), {}, "SIGNATURE_RAW_BAD_SIGNATURE"),
        (_raw(), {"mechanism": "CKM_SHA512_RSA_PKCS"}, "SIGNATURE_RAW_BAD_SIGNATURE"),
        ("not base64!", {}, "SIGNATURE_BASE64_INVALID"),
    ],
)
def test_a_raw_signature_that_does_not_verify_is_refused(
    data: str, extra: dict[str, Any], code: str
) -> None:
    with pytest.raises(AnswerRejected) as rejected:
        _with_profile(data, "raw", **extra)
    assert rejected.value.code == code


def test_a_raw_signature_needs_an_rsa_key() -> None:
    with pytest.raises(AnswerRejected) as rejected:
        _with_profile(_raw(), "raw", key=EC_KEY)
    assert rejected.value.code == "SIGNATURE_KEY_UNSUPPORTED"


def test_an_xmldsig_answer_of_a_profile_is_recorded_not_verified_by_the_server() -> None:
    verified = _with_profile(base64.b64encode(b"<ds:Signature/>").decode(), "xmldsig")
    assert verified.verification == NOT_VERIFIED_BY_SERVER


# --- signer chains -------------------------------------------------------------------------------


def test_a_signer_chains_to_its_trusted_ca_and_not_to_another() -> None:
    assert verify_signer_chain(SIGNER_CERT, [], [CA_CERT], at=NOW).verified
    other = make_self_signed_ca("Other CA")[1]
    refused = verify_signer_chain(SIGNER_CERT, [], [other], at=NOW)
    assert not refused.verified
    assert "does not chain" in refused.reason


def test_a_signer_without_trusted_cas_is_an_unverified_signer() -> None:
    result = verify_signer_chain(SIGNER_CERT, [], [], at=NOW)
    assert (result.verified, result.reason) == (False, "unverified signer")


def test_an_expired_signer_does_not_chain() -> None:
    assert not verify_signer_chain(
        SIGNER_CERT, [], [CA_CERT], at=NOW + timedelta(days=400)
    ).verified


# --- parsing ------------------------------------------------------------------------------------

_PID = "3051e9f3-0e4d-436b-a512-2e18d8afe134"
_TBS = [{"data": "UGF5"}]


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("sign", {"commandHeader": {"to": ["@tmp"]}, "signCommand": {"params": {"tbs": _TBS}}}),
        ("authenticate", {"commandHeader": {"to": ["@tmp"]}, "authCommand": {}}),
        ("startpinreset", {"commandHeader": {"to": ["@tmp"]}, "spinCommand": {}}),
        ("startpinreset", {"spinCommand": {"smartcardid": "card"}}),
        ("endpinreset", {"epinCommand": {"smartcardid": "card", "encryptednonce": "00"}}),
        ("delete", {"deleteCommand": {"vscinfo": {"smartcardid": "card"}}}),
        ("certificate", {"certCommand": {"smartcardid": "card", "certificates": [
            {"keyid": "signer", "data": _b64(CA_CERT)}]}}),
    ],
)  # fmt: skip
def test_the_documented_bodies_without_profileid_are_accepted(
    endpoint: str, body: dict[str, Any]
) -> None:
    request = parse_command_request(endpoint, body)
    assert request.profile_id is None


@pytest.mark.parametrize("value", ["XMLDSIG", "xmldsig", "RAW", "raw", "PKCS1", "JWS", "pkcs7"])
def test_every_signature_format_is_accepted_in_any_case(value: str) -> None:
    body = {"signCommand": {"profileid": _PID, "params": {"tbs": _TBS, "format": value}}}
    canonical = parse_command_request("sign", body).sign_format
    assert canonical == ("raw" if value.lower() == "pkcs1" else value.lower())


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("endpinreset", {"commandHeader": {"to": ["@tmp"]},
                         "epinCommand": {"encryptednonce": "00"}}, "epinCommand.profileid"),
        ("sign", {"commandHeader": {"to": ["@tmp"]}, "signCommand": {"params": {
            "tbs": _TBS, "format": "raw"}}}, "signCommand.params.format"),
        ("sign", {"signCommand": {"profileid": _PID, "params": {
            "tbs": _TBS, "format": "raw", "mechanism": "CKM_ECDSA"}}},
         "signCommand.params.mechanism"),
        ("sign", {"signCommand": {"profileid": _PID, "params": {"tbs": _TBS, "format": "cms"}}},
         "signCommand.params.format"),
    ],
)  # fmt: skip
def test_what_stays_refused_names_its_field(
    endpoint: str, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_command_request(endpoint, body)
    assert refused.value.field == field


# --- destination progress ---------------------------------------------------------------------


def test_a_destination_shows_its_state_and_fetch_time_after_the_documented_members() -> None:
    fetched = datetime(2025, 6, 2, 10, 0, 12, tzinfo=UTC)
    view = DestinationView(
        "@userA", "b", "m", "uri", "loc", "p", state="FETCHED", fetched_at=fetched
    )
    body = view.as_json()
    assert list(body) == ["to", "bid", "uri", "pid", "mid", "location", "state", "fetchedAt"]
    assert (body["state"], body["fetchedAt"]) == ("FETCHED", "2025-06-02T10:00:12Z")
    waiting = DestinationView("@tmp", "b", "m", "uri", "loc", None, state="WAITING").as_json()
    assert waiting["fetchedAt"] is None
