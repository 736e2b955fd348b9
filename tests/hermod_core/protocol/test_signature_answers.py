"""An auth/sign answer is bound to its command (docs/PROTOCOL.md §6.3, issue 10):
`validate_signature` with fixed vectors — a JWS names the command in its nonce, a CMS carries a
signed signingTime within the command's life, and both yield the replay fingerprint of their
signature value."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from hermod_core.crypto import jws
from hermod_core.crypto.cms import sign_data
from hermod_core.crypto.digests import b64url_sha256
from hermod_core.crypto.jwk import PrivateKey, jwk_from_public_key
from hermod_core.crypto.signatures import signature_fingerprint
from hermod_core.emulator.testca import make_self_signed_ca
from hermod_core.protocol.answers import (
    SIGNING_TIME_SKEW,
    AnswerRejected,
    SigningKey,
    VerifiedSignature,
    parse_envelope,
    validate_signature,
)
from tests.hermod_core.crypto.cms_builder import CmsSpec, build_cms

TBS = (b"Pay 100 EUR", b"\x00\x01")
COMMAND_ID = 18093
CREATED = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
NOW = CREATED + timedelta(minutes=2)  # the answer arrives two minutes after the command
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CERTIFICATES = {
    id(key): make_self_signed_ca("signer", key=key, days=1)[1] for key in (EC_KEY, RSA_KEY)
}


def _certificate(key: PrivateKey) -> x509.Certificate:
    return CERTIFICATES[id(key)]


def _validate(data: str, format_: str, key: PrivateKey = EC_KEY, **overrides: Any) -> Any:
    raw = {
        "responseHeader": {"inReplyTo": "https://hermod.example/ms/b/m", "status": 200},
        "signResponse": {"code": 0, "result": {"contenttype": format_, "data": data}},
    }
    arguments: dict[str, Any] = {
        "command_id": COMMAND_ID,
        "tbs": TBS,
        "format_": format_,
        "candidates": (SigningKey("signer", jwk_from_public_key(key.public_key())),),
        "created_at": CREATED,
        "now": NOW,
    }
    return validate_signature(parse_envelope(raw, "signResponse"), **(arguments | overrides))


def _code(data: str, format_: str, key: PrivateKey = EC_KEY, **overrides: Any) -> str:
    with pytest.raises(AnswerRejected) as rejected:
        _validate(data, format_, key, **overrides)
    return rejected.value.code


def _cms(signing_time: datetime | None, key: PrivateKey = EC_KEY, **spec: Any) -> str:
    options: dict[str, Any] = {"signed_attributes": True, "signing_time": signing_time} | spec
    der = build_cms(CmsSpec(b"".join(TBS), key, _certificate(key), detached=True, **options))
    return base64.b64encode(der).decode()


def _jws(nonce: object, key: PrivateKey = EC_KEY) -> str:
    payload = {"tbs": [b64url_sha256(item) for item in TBS], "nonce": nonce}
    return jws.sign_compact(payload, key, "ES256" if key is EC_KEY else "RS256", {"kid": "signer"})


# --- PKCS#7: signed attributes with a signingTime in the command's life --------------------------


@pytest.mark.parametrize(
    "signing_time",
    [CREATED - SIGNING_TIME_SKEW, CREATED, NOW, NOW + SIGNING_TIME_SKEW],
    ids=["earliest", "created", "now", "latest"],
)
@pytest.mark.parametrize("key", [EC_KEY, RSA_KEY], ids=["EC", "RSA"])
def test_a_cms_signed_within_the_commands_life_is_accepted(
    signing_time: datetime, key: PrivateKey
) -> None:
    verified = _validate(_cms(signing_time, key), "pkcs7", key)
    assert isinstance(verified, VerifiedSignature)
    assert verified.keyid == "signer"


@pytest.mark.parametrize(
    "signing_time",
    [CREATED - SIGNING_TIME_SKEW - timedelta(seconds=1), CREATED - timedelta(days=1)],
    ids=["just before", "a day before"],
)
def test_a_cms_signed_before_the_command_was_created_is_refused(signing_time: datetime) -> None:
    assert _code(_cms(signing_time), "pkcs7") == "SIGNING_TIME_OUT_OF_RANGE"


@pytest.mark.parametrize(
    "signing_time",
    [NOW + SIGNING_TIME_SKEW + timedelta(seconds=1), NOW + timedelta(days=1)],
    ids=["just after", "a day after"],
)
def test_a_cms_signed_in_the_future_is_refused(signing_time: datetime) -> None:
    assert _code(_cms(signing_time), "pkcs7") == "SIGNING_TIME_OUT_OF_RANGE"


def test_a_cms_without_signed_attributes_is_refused() -> None:
    assert _code(_cms(None, signed_attributes=False), "pkcs7") == "SIGNED_ATTRIBUTES_MISSING"
    # The reference device's fault makes the same shape.
    der = sign_data(b"".join(TBS), EC_KEY, _certificate(EC_KEY), signed_attributes=False)
    assert _code(base64.b64encode(der).decode(), "pkcs7") == "SIGNED_ATTRIBUTES_MISSING"


def test_signed_attributes_without_a_signing_time_are_refused() -> None:
    assert _code(_cms(None), "pkcs7") == "SIGNING_TIME_MISSING"


def test_a_cms_whose_signature_fails_is_refused_before_its_time_is_looked_at() -> None:
    """No statement about time is believed from a signature that does not verify."""
    data = _cms(CREATED - timedelta(days=1), RSA_KEY)
    assert _code(data, "pkcs7", EC_KEY) == "SIGNATURE_CMS_WRONG_KEY"


def test_the_cms_fingerprint_is_that_of_its_signature_value_and_of_its_mirror() -> None:
    data = _cms(NOW)
    der = base64.b64decode(data)
    verified = _validate(data, "pkcs7")
    info = asn1_cms.ContentInfo.load(der)
    signer = info["content"]["signer_infos"][0]
    value = bytes(signer["signature"])
    assert verified.fingerprint == signature_fingerprint(
        EC_KEY.public_key(), value, ecdsa_encoding="der"
    )
    r, s = decode_dss_signature(value)
    signer["signature"] = encode_dss_signature(r, P256_ORDER - s)
    mirrored = base64.b64encode(info.dump(force=True)).decode()
    assert mirrored != data
    assert _validate(mirrored, "pkcs7").fingerprint == verified.fingerprint


def test_two_honest_cms_signatures_of_the_same_tbs_have_two_fingerprints() -> None:
    """A new command with the same tbs gets a new signature (another signingTime, and for
    ECDSA another k): only a copy of an accepted one is refused."""
    first = _validate(_cms(CREATED, RSA_KEY), "pkcs7", RSA_KEY)
    second = _validate(_cms(CREATED + timedelta(seconds=1), RSA_KEY), "pkcs7", RSA_KEY)
    assert first.fingerprint != second.fingerprint


# --- JWS: the payload names the command -----------------------------------------------------


@pytest.mark.parametrize("nonce", [COMMAND_ID, str(COMMAND_ID)])
def test_a_jws_naming_its_command_is_accepted_with_its_fingerprint(nonce: object) -> None:
    token = _jws(nonce)
    verified = _validate(token, "jws")
    signature = jws.parse_compact(token).signature
    assert verified.fingerprint == signature_fingerprint(
        EC_KEY.public_key(), signature, ecdsa_encoding="raw"
    )


def test_a_jws_for_another_command_is_refused() -> None:
    """The answer to command 18092, same profile and tbs, posted to command 18093."""
    assert _code(_jws(COMMAND_ID - 1), "jws") == "NONCE_MISMATCH"
    assert _code(_jws(None), "jws") == "NONCE_MISMATCH"


def test_a_jws_is_not_bound_by_time() -> None:
    """The nonce binds a JWS; the command's times do not matter to it."""
    assert _validate(_jws(COMMAND_ID), "jws", created_at=NOW + timedelta(days=1)).keyid == "signer"
