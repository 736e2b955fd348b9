"""Authenticate and sign answers (docs/PROTOCOL.md §5.3, §6.3) pass the server's
`validate_signature` for jws and pkcs7 with RSA and EC keys, and each fault fails it with its
code."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from hermod_core.crypto.cms import verify_signed_data
from hermod_core.crypto.jwk import thumbprint
from hermod_core.emulator.device import Device, Faults
from hermod_core.emulator.signing import select_key
from hermod_core.emulator.state import StoredProfile
from hermod_core.emulator.testca import issue_certificate, make_self_signed_ca
from hermod_core.protocol.answers import (
    AnswerRejected,
    SigningKey,
    validate_profileless_signature,
    validate_signature,
)
from tests.hermod_core.emulator.messages import FQDN, ProvisionCase, envelope_of, key_request

TBS = (b"Transfer 500 to account 1234", b"\x00\x01\x02\x03")
COMMAND_ID = 18093
FILTERS = {
    "RSA": {"op": "eq", "param": "key.type", "value": "RSA"},
    "EC-256": {"op": "eq", "param": "key.id", "value": "auth"},
    "EC-384": {"op": "eq", "param": "key.id", "value": "p384"},
}


def provision(device: Device) -> StoredProfile:
    """Store the profile a provisioning answer creates, as after a COMPLETED answer."""
    case = ProvisionCase(
        key_request("signer", "RSA", 2048, "SIG"),
        key_request("auth", "EC", 256, "AUTH"),
        key_request("p384", "EC", 384, "SIG"),
    )
    profile = device.build_answer(case.location, case.message).new_profile
    assert profile is not None
    device.state.put(profile)
    return profile


def message(
    profile: StoredProfile, params: dict[str, Any], kind: str = "SIGN"
) -> tuple[str, dict[str, Any]]:
    """A sign/auth message in the profile's permanent box, as `GET /ms/{bid}/{mid}` returns."""
    mid = uuid.uuid4()
    location = f"{profile.boxurl}/{mid}"
    body_key = "signCommand" if kind == "SIGN" else "authCommand"
    return location, {
        "messageHeader": {
            "mid": str(mid),
            "bid": profile.boxurl.rsplit("/", 1)[-1],
            "location": location,
            "commandId": str(COMMAND_ID),
            "commandType": kind,
            "fqdn": FQDN,
        },
        body_key: {"profileid": profile.profile_id, "params": params},
    }


def params(format_: str, filter_: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tbs": [
            {"key": "tbs", "content_encoding": "base64", "data": base64.b64encode(t).decode()}
            for t in TBS
        ],
        "format": format_,
    }
    if filter_ is not None:
        body["filter"] = filter_
    return body


def candidates(profile: StoredProfile, filter_: dict[str, Any] | None) -> tuple[SigningKey, ...]:
    """The server's candidate keys: ACTIVE keys the filter selects (services.answers)."""
    attribute = {"key.type": "keytype", "key.usage": "usage", "key.id": "keyid"}
    keys = [k for k in profile.keys.values() if k.keystate == "ACTIVE"]
    if filter_:
        keys = [k for k in keys if getattr(k, attribute[filter_["param"]]) == filter_["value"]]
    return tuple(SigningKey(keyid=k.keyid, jwk=k.jwk) for k in keys)


def verify(answer_body: dict[str, Any], profile: StoredProfile, format_: str, filter_) -> str:
    """The server's check of the answer to a command created a minute ago; the keyid used."""
    key = "signResponse" if "signResponse" in answer_body else "authResponse"
    now = datetime.now(UTC)
    return validate_signature(
        envelope_of(answer_body, key),
        command_id=COMMAND_ID,
        tbs=TBS,
        format_=format_,
        candidates=candidates(profile, filter_),
        created_at=now - timedelta(minutes=1),
        now=now,
    ).keyid


@pytest.fixture
def device(make_device) -> Device:
    return make_device()


@pytest.mark.parametrize("kind", ["SIGN", "AUTH"])
@pytest.mark.parametrize("format_", ["jws", "pkcs7"])
@pytest.mark.parametrize(
    ("key", "keyid"), [("RSA", "signer"), ("EC-256", "auth"), ("EC-384", "p384")]
)
def test_the_answer_verifies_with_the_selected_key(device, kind, format_, key, keyid) -> None:
    profile = provision(device)
    location, msg = message(profile, params(format_, FILTERS[key]), kind)
    answer = device.build_answer(location, msg)
    result = answer.body["signResponse" if kind == "SIGN" else "authResponse"]
    assert result["code"] == 0
    assert result["result"]["contenttype"] == format_
    assert answer.body["responseHeader"]["inReplyTo"] == location
    assert verify(answer.body, profile, format_, FILTERS[key]) == keyid


@pytest.mark.parametrize(("kind", "keyid"), [("SIGN", "signer"), ("AUTH", "auth")])
def test_without_a_filter_the_key_of_the_commands_usage_is_used(device, kind, keyid) -> None:
    profile = provision(device)
    location, msg = message(profile, params("jws"), kind)
    answer = device.build_answer(location, msg)
    assert verify(answer.body, profile, "jws", None) == keyid


def test_select_key_prefers_active_keys_and_falls_back_to_the_first(device) -> None:
    profile = provision(device)
    assert select_key(profile, None, "SIGN").keyid == "signer"
    profile.keys["signer"].keystate = "INACTIVE"
    assert select_key(profile, None, "SIGN").keyid == "p384"
    assert select_key(profile, {"param": "key.usage", "value": "AUTH"}, "SIGN").keyid == "auth"
    assert select_key(profile, {"param": "key.id", "value": "nope"}, "SIGN") is None


def test_pkcs7_carries_the_installed_certificate(device) -> None:
    profile = provision(device)
    ca_key, ca_cert = make_self_signed_ca("Test CA")
    csr = base64.b64decode(profile.keys["signer"].certreq)
    certificate = issue_certificate(csr, ca_key, ca_cert)
    der = certificate.public_bytes(serialization.Encoding.DER)
    profile.certificates["signer"] = base64.b64encode(der).decode()
    location, msg = message(profile, params("pkcs7", FILTERS["RSA"]))
    data = device.build_answer(location, msg).body["signResponse"]["result"]["data"]
    key = profile.keys["signer"].private_key().public_key()
    verified = verify_signed_data(data, expected_key=key, content=b"".join(TBS))
    assert verified.signer_certificate == certificate


def test_no_matching_key_is_refused_with_code_2(device) -> None:
    profile = provision(device)
    location, msg = message(profile, params("jws", {"op": "eq", "param": "key.id", "value": "x"}))
    assert device.build_answer(location, msg).body["signResponse"] == {"code": 2}


def test_an_unknown_format_is_refused_with_code_3(device) -> None:
    profile = provision(device)
    location, msg = message(profile, params("xml"))
    assert device.build_answer(location, msg).body["signResponse"] == {"code": 3}


def test_a_message_for_no_stored_profile_is_refused_with_code_2(device) -> None:
    profile = provision(device)
    location, msg = message(profile, params("jws"))
    device.state.remove(profile.profile_id)
    assert device.build_answer(location, msg).body["signResponse"] == {"code": 2}


@pytest.mark.parametrize(
    ("fault", "format_", "code"),
    [
        ("wrong_nonce", "jws", "NONCE_MISMATCH"),
        ("tampered_payload", "jws", "SIGNATURE_JWS_BAD_SIGNATURE"),
        ("wrong_key", "jws", "SIGNATURE_JWS_BAD_SIGNATURE"),
        ("alg_none", "jws", "SIGNATURE_JWS_ALG_NOT_ALLOWED"),
        ("hs256", "jws", "SIGNATURE_JWS_ALG_NOT_ALLOWED"),
        ("wrong_tbs", "jws", "TBS_DIGEST_MISMATCH"),
        ("tampered_payload", "pkcs7", "SIGNATURE_CMS_BAD_SIGNATURE"),
        ("wrong_key", "pkcs7", "SIGNATURE_CMS_WRONG_KEY"),
        ("wrong_tbs", "pkcs7", "SIGNATURE_CMS_CONTENT_MISMATCH"),
        ("no_signed_attributes", "pkcs7", "SIGNED_ATTRIBUTES_MISSING"),
        ("stale_signing_time", "pkcs7", "SIGNING_TIME_OUT_OF_RANGE"),
    ],
)
@pytest.mark.parametrize("key", ["RSA", "EC-256"])
def test_each_fault_is_refused_with_its_code(make_device, fault, format_, code, key) -> None:
    device = make_device(faults=Faults(**{fault: True}))
    profile = provision(make_device())  # an honest provisioning: only the signature is faulty
    device.state.put(profile)
    location, msg = message(profile, params(format_, FILTERS[key]))
    answer = device.build_answer(location, msg)
    with pytest.raises(AnswerRejected) as rejected:
        verify(answer.body, profile, format_, FILTERS[key])
    assert rejected.value.code == code


def test_a_declining_device_answers_code_1(make_device) -> None:
    device = make_device(decline=True)
    profile = provision(make_device())
    device.state.put(profile)
    location, msg = message(profile, params("jws"), "AUTH")
    assert device.build_answer(location, msg).body["authResponse"] == {"code": 1}


def test_pkcs7_answers_carry_a_current_signing_time_and_never_repeat_a_signature(device) -> None:
    """Two commands with the same tbs, answered at once with the (deterministic) RSA key: the
    device's clock moves the second signingTime on, so the server does not see a replay."""
    profile = provision(device)
    key = profile.keys["signer"].private_key().public_key()
    before = datetime.now(UTC).replace(microsecond=0)
    verified = []
    for _ in range(3):
        location, msg = message(profile, params("pkcs7", FILTERS["RSA"]))
        data = device.build_answer(location, msg).body["signResponse"]["result"]["data"]
        verified.append(verify_signed_data(data, expected_key=key, content=b"".join(TBS)))
    times = [v.signing_time for v in verified]
    assert all(t is not None and before <= t for t in times)
    assert times == sorted(set(times))
    assert len({v.signature for v in verified}) == 3


def test_a_raw_answer_verifies_with_the_rsa_key_and_an_ec_key_refuses_with_code_3(device) -> None:
    profile = provision(device)
    location, msg = message(profile, params("RAW", FILTERS["RSA"]))
    answer = device.build_answer(location, msg).body
    assert answer["signResponse"]["result"]["contenttype"] == "raw"
    assert verify(answer, profile, "raw", FILTERS["RSA"]) == "signer"
    location, msg = message(profile, params("raw", FILTERS["EC-256"]))
    assert device.build_answer(location, msg).body["signResponse"] == {"code": 3}


def test_an_xmldsig_answer_is_a_base64_xml_signature_document(device) -> None:
    profile = provision(device)
    location, msg = message(profile, params("XMLDSIG"))
    result = device.build_answer(location, msg).body["signResponse"]["result"]
    assert result["contenttype"] == "xmldsig"
    assert base64.b64decode(result["data"]).startswith(b"<ds:Signature ")


@pytest.mark.parametrize("format_", ["jws", "pkcs7"])
def test_a_message_without_profile_is_signed_by_a_stored_profile_with_its_certificate(
    device, format_
) -> None:
    profile = provision(device)
    _, msg = message(profile, params(format_, FILTERS["RSA"]))
    del msg["signCommand"]["profileid"]
    tmp_location = f"https://{FQDN}/hermod/rest/ms/{uuid.uuid4()}/{uuid.uuid4()}"
    msg["messageHeader"]["location"] = tmp_location
    answer = device.build_answer(tmp_location, msg).body["signResponse"]
    assert answer["code"] == 0
    now = datetime.now(UTC)
    signed = validate_profileless_signature(
        envelope_of({"responseHeader": {"inReplyTo": tmp_location}, "signResponse": answer},
                    "signResponse"),
        command_id=COMMAND_ID,
        tbs=TBS,
        format_=format_,
        created_at=now - timedelta(minutes=1),
        now=now,
    )  # fmt: skip
    assert signed.signer == thumbprint(profile.keys["signer"].private_key().public_key())
