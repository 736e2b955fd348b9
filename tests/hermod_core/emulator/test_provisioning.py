"""The provisioning answer (docs/PROTOCOL.md §6.1) passes the server's own validation (§6.2), and
each deliberate fault makes that validation fail with the code named after the rule it breaks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography import x509

from hermod_core.crypto import jws
from hermod_core.crypto.digests import b64url_decode
from hermod_core.crypto.jwk import thumbprint
from hermod_core.emulator.device import Faults
from hermod_core.emulator.keys import public_key_pem
from hermod_core.emulator.provisioning import choose_key_type
from hermod_core.protocol.answers import AnswerRejected, validate_provision
from tests.hermod_core.emulator.messages import (
    FQDN,
    NONCE,
    PUBLIC_URL,
    ProvisionCase,
    envelope_of,
    key_request,
)

KEY_TYPES = [("RSA", 2048), ("RSA", 3072), ("RSA", 4096), ("EC", 256), ("EC", 384)]


def _outer(body: dict[str, Any]) -> jws.ParsedJws:
    return jws.parse_compact(body["provResponse"]["result"]["data"])


@pytest.mark.parametrize("quirky", [False, True], ids=["plain-jwk", "quirky-jwk"])
@pytest.mark.parametrize(("keytype", "keylength"), KEY_TYPES)
def test_the_answer_passes_the_servers_validation(make_device, keytype, keylength, quirky) -> None:
    case = ProvisionCase(key_request("k", keytype, keylength))
    device = make_device(quirky_jwk=quirky)
    answer = device.build_answer(case.location, case.message)
    result = validate_provision(envelope_of(answer.body, "provResponse"), case.expectation())
    (key,) = result.keys
    assert (key.keyid, key.keytype, key.keylength) == ("k", keytype, keylength)
    assert result.profile_id == case.profile_id
    assert result.box_id == case.box_id
    assert not result.reported_own_ids
    assert result.attestation_thumbprint == thumbprint(device.attestation_key.public_key())
    stored = answer.new_profile
    assert stored is not None
    assert stored.keys["k"].jwk["kid"] == "k"
    assert thumbprint(stored.keys["k"].private_key().public_key()) == key.thumbprint


def test_several_keys_of_mixed_types_and_an_ec_attestation_key(make_device) -> None:
    case = ProvisionCase(
        key_request("signer", "RSA", 2048, "SIG"),
        key_request("auth", "EC", 256, "AUTH"),
        key_request("enc", "EC", 384, "ENC"),
    )
    device = make_device(attestation="ec", quirky_jwk=True)
    answer = device.build_answer(case.location, case.message)
    result = validate_provision(envelope_of(answer.body, "provResponse"), case.expectation())
    assert [(k.keyid, k.usage) for k in result.keys] == [
        ("signer", "SIG"),
        ("auth", "AUTH"),
        ("enc", "ENC"),
    ]
    assert _outer(answer.body).alg == "ES256"
    assert result.attestation_jwk["kty"] == "EC"


def test_the_answer_has_the_documented_shape(make_device) -> None:
    case = ProvisionCase()
    answer = make_device().build_answer(case.location, case.message)
    assert answer.body["responseHeader"] == {"inReplyTo": case.location, "status": 200}
    assert answer.body["provResponse"]["code"] == 0
    assert answer.body["provResponse"]["result"]["contenttype"] == "jws"
    outer = _outer(answer.body)
    assert outer.alg == "RS256"
    assert outer.header["jwk"]["kid"] == "attestation"
    assert outer.header["nonce"] == NONCE
    assert outer.header["fqdn"] == FQDN
    assert outer.header["sch"] == "1"
    payload = jws.payload_json(outer)
    assert set(payload["deviceinfo"]) == {"operatingsystem", "name", "model"}
    profile = payload["profile"]
    assert profile["id"] == str(case.profile_id)
    assert profile["boxurl"] == f"{PUBLIC_URL}/{case.box_id}"
    assert (profile["userid"], profile["servername"], profile["name"]) == (
        "userA",
        "nexus-cod1",
        "TestProfile",
    )
    (entry,) = profile["signedkeys"]
    signed = jws.parse_compact(entry)
    assert signed.header == {"alg": "RS256", "kid": "signer", "nonce": NONCE}
    key_jwk = jws.payload_json(signed)
    assert {"kty", "n", "e", "kid", "use", "alg", "certreq", "keystate"} <= set(key_jwk)
    assert (key_jwk["use"], key_jwk["alg"], key_jwk["keystate"]) == ("sig", "RS256", "ACTIVE")
    csr = x509.load_der_x509_csr(base64.b64decode(key_jwk["certreq"]))
    assert csr.is_signature_valid


def test_quirky_jwks_look_like_a_real_apps(make_device) -> None:
    case = ProvisionCase()
    answer = make_device(quirky_jwk=True).build_answer(case.location, case.message)
    outer = _outer(answer.body)
    attestation = outer.header["jwk"]
    assert b64url_decode(attestation["n"])[0] == 0  # Java's sign byte
    assert attestation["n#len"] == 2048
    assert attestation["keystate"] == "ACTIVE"
    key_jwk = jws.payload_json(
        jws.parse_compact(jws.payload_json(outer)["profile"]["signedkeys"][0])
    )
    assert b64url_decode(key_jwk["n"])[0] == 0
    assert key_jwk["n#len"] == 2048


def test_the_stored_profile_keeps_the_assigned_box_and_the_desktop_fields(make_device) -> None:
    vscinfo = {"smartcardid": "card-1", "adminkey": "0" * 48}
    extensions = [{"key": "congratsmessage", "data": "Welcome!"}]
    case = ProvisionCase(
        extra={
            "vscinfo": vscinfo,
            "desktopExtensions": extensions,
            "desktopKeyProtectionLevel": "CONSENT",
        }
    )
    profile = make_device().build_answer(case.location, case.message).new_profile
    assert profile is not None
    # No box token yet: the server gives it only in its answer once it accepted this one.
    assert (profile.profile_id, profile.boxurl, profile.boxtoken) == (
        str(case.profile_id),
        f"{PUBLIC_URL}/{case.box_id}",
        "",
    )
    assert (profile.vscinfo, profile.desktop_extensions) == (vscinfo, extensions)
    assert profile.desktop_key_protection_level == "CONSENT"
    assert len(profile.guid) == 32


def test_the_first_supported_key_type_is_chosen() -> None:
    prios = [
        {"keytype": "DSA", "keylength": "2048"},
        {"keytype": "RSA", "keylength": "1024"},
        {"keytype": "EC", "keylength": 384},
        {"keytype": "RSA", "keylength": "2048", "responsemechanism": "PS256"},
    ]
    assert choose_key_type(prios) == ("EC", 384, "ES384")
    assert choose_key_type(prios[3:]) == ("RSA", 2048, "PS256")


def test_a_request_for_no_supported_key_type_is_refused_with_code_3(make_device) -> None:
    request = key_request()
    request["keytypeprios"] = [{"keytype": "RSA", "keylength": "8192"}]
    case = ProvisionCase(request)
    answer = make_device().build_answer(case.location, case.message)
    assert answer.body["provResponse"] == {"code": 3}
    assert answer.new_profile is None


def test_a_declining_device_answers_code_1_and_stores_nothing(make_device) -> None:
    case = ProvisionCase()
    answer = make_device(decline=True).build_answer(case.location, case.message)
    assert answer.body == {
        "responseHeader": {"inReplyTo": case.location, "status": 200},
        "provResponse": {"code": 1},
    }
    assert answer.new_profile is None


@pytest.mark.parametrize(
    ("fault", "keytype", "keylength", "code"),
    [
        ("wrong_nonce", "RSA", 2048, "NONCE_MISMATCH"),
        ("tampered_payload", "RSA", 2048, "ATTESTATION_JWS_BAD_SIGNATURE"),
        ("wrong_key", "RSA", 2048, "SIGNEDKEY_JWS_BAD_SIGNATURE"),
        ("wrong_key", "EC", 256, "SIGNEDKEY_JWS_BAD_SIGNATURE"),
        ("other_subject", "RSA", 2048, "CSR_SUBJECT_MISMATCH"),
        ("other_subject", "EC", 384, "CSR_SUBJECT_MISMATCH"),
        ("alg_none", "RSA", 2048, "ATTESTATION_JWS_ALG_NOT_ALLOWED"),
        ("hs256", "RSA", 2048, "ATTESTATION_JWS_ALG_NOT_ALLOWED"),
        ("wrong_fqdn", "RSA", 2048, "FQDN_MISMATCH"),
        ("missing_key", "EC", 256, "SIGNEDKEYS_COUNT"),
        ("small_key", "RSA", 2048, "SIGNEDKEY_JWK_INVALID"),
        ("small_key", "RSA", 3072, "SIGNEDKEY_JWK_INVALID"),
        ("small_key", "EC", 384, "KEY_TYPE_NOT_REQUESTED"),
        ("csr_key_mismatch", "RSA", 2048, "CSR_KEY_MISMATCH"),
        ("csr_key_mismatch", "EC", 256, "CSR_KEY_MISMATCH"),
    ],
)
@pytest.mark.parametrize("quirky", [False, True], ids=["plain-jwk", "quirky-jwk"])
def test_each_fault_is_refused_with_its_code(
    make_device, fault, keytype, keylength, code, quirky
) -> None:
    case = ProvisionCase(key_request("k", keytype, keylength))
    device = make_device(faults=Faults(**{fault: True}), quirky_jwk=quirky)
    answer = device.build_answer(case.location, case.message)
    with pytest.raises(AnswerRejected) as rejected:
        validate_provision(envelope_of(answer.body, "provResponse"), case.expectation())
    assert rejected.value.code == code


def test_missing_key_omits_only_the_last_of_several_entries(make_device) -> None:
    case = ProvisionCase(key_request("a"), key_request("b", "EC", 256))
    answer = make_device(faults=Faults(missing_key=True)).build_answer(case.location, case.message)
    signed = jws.payload_json(_outer(answer.body))["profile"]["signedkeys"]
    assert [jws.parse_compact(e).header["kid"] for e in signed] == ["a"]


def test_wrong_inreplyto_names_another_message_of_the_same_box(make_device) -> None:
    # The rule lives in the service (IN_REPLY_TO_MISMATCH), not in validate_provision.
    case = ProvisionCase()
    answer = make_device(faults=Faults(wrong_inreplyto=True)).build_answer(
        case.location, case.message
    )
    in_reply_to = envelope_of(answer.body, "provResponse").in_reply_to
    assert in_reply_to != case.location
    assert in_reply_to.startswith(f"{PUBLIC_URL}/{case.bid}/")
    validate_provision(envelope_of(answer.body, "provResponse"), case.expectation())


def test_hs256_is_the_classic_key_confusion_forgery(make_device) -> None:
    """The token is exactly what a verifier using the public key PEM as HMAC secret accepts."""
    case = ProvisionCase()
    device = make_device(faults=Faults(hs256=True))
    token = device.build_answer(case.location, case.message).body["provResponse"]["result"]["data"]
    header, payload, signature = token.split(".")
    secret = public_key_pem(device.attestation_key.public_key())
    expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert b64url_decode(signature) == expected
    assert json.loads(b64url_decode(header))["alg"] == "HS256"


def test_alg_none_has_an_empty_signature(make_device) -> None:
    case = ProvisionCase()
    answer = make_device(faults=Faults(alg_none=True)).build_answer(case.location, case.message)
    parsed = _outer(answer.body)
    assert parsed.alg == "none"
    assert parsed.signature == b""
    assert parsed.header["jwk"]["kid"] == "attestation"  # everything else is honest


def test_tampering_keeps_the_payload_valid_json(make_device) -> None:
    case = ProvisionCase()
    honest = _outer(make_device().build_answer(case.location, case.message).body)
    tampered_answer = make_device(faults=Faults(tampered_payload=True)).build_answer(
        case.location, case.message
    )
    tampered = _outer(tampered_answer.body)
    assert jws.payload_json(tampered)["profile"]["userid"] == "userA"
    assert len(tampered.payload) == len(honest.payload)
